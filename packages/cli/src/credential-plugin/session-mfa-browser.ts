// A session MFA check with a security key, in the browser, as ztsh login
// does its sign-in: listen on loopback, start the check with the hash of a
// fresh verifier (POST /v1/session-mfa/browser), show (and open) the page the
// proxy names, wait for the browser to come back with a one-time code, and
// redeem code + verifier for the short certificate (POST /v1/session-mfa).
//
//   ztsh ──start {clusters, redirect, verifierHash}──▶ proxy ──{id, url}
//   browser ──url──▶ proxy (WebAuthn) ──302──▶ http://127.0.0.1:PORT/callback?code=…
//   ztsh ──redeem {clusters, browser: {id, code, verifier}}──▶ proxy ──certificate
//
// The verifier stays in this process: only its hash is sent first, and it
// goes nowhere but the redeem's body. The page the proxy names is opened
// only when it is https on the proxy's own origin: a lying proxy must not
// make ztsh open a file, a program or another site.
import { hostname } from 'node:os';
import { SessionMfaBrowserStarted, SessionMfaResponse } from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import type { ApiClient } from '../http.ts';
import { callbackPage, startCallbackServer, type CallbackOutcome } from '../login/callback-server.ts';
import { newVerifier } from '../login/keys.ts';
import { openBrowser } from '../login/open-browser.ts';
import { localTime } from '../local-time.ts';
import { safeText } from '../terminal-safe.ts';

export const BROWSER_CHECK_TIMEOUT_MS = 5 * 60_000;

export interface BrowserCheckOptions {
  api: ApiClient;
  proxy: URL;
  clusters: string[];
  /** Where the lines for the user go: stderr for ztsh kube mfa, the terminal for the plugin (never kubectl's stdout). */
  say(text: string): void;
  /** Open the page in a browser (else only print it). */
  open: boolean;
  env: Record<string, string | undefined>;
  timeoutMs: number;
  /** What to run again after a timeout, for the hint. */
  again: string;
}

/** The check page as a URL to open: https, on the proxy's origin, no user info. Anything else is refused. */
export function checkPageUrl(text: string, proxy: URL): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw lyingProxy(proxy, text);
  }
  if (url.protocol !== 'https:' || url.origin !== proxy.origin || url.username || url.password) throw lyingProxy(proxy, text);
  return url;
}

function lyingProxy(proxy: URL, text: string): CliError {
  return new CliError(
    `the proxy named a security key page that is not on ${proxy.origin} (${safeText(text.slice(0, 200))}): not opened`,
    `a ztsh proxy serves the page itself; check that --proxy ${proxy.origin} is the access plane you mean, and report this to its operators`,
  );
}

/** How a failure the browser reports reads in the terminal: the proxy's words, with its hint. */
export function browserCheckError(outcome: Extract<CallbackOutcome, { error: string }>): CliError {
  const lead = outcome.error === 'mfa_failed' ? 'the security key check failed' : outcome.error === 'mfa_locked' ? 'the second factor is locked' : 'the security key check did not complete';
  return new CliError(`${lead}: ${outcome.description}`, outcome.hint, 1, outcome.error);
}

export async function browserSessionMfa(options: BrowserCheckOptions): Promise<SessionMfaResponse> {
  const { api, proxy, clusters, say } = options;
  const secret = newVerifier();
  const callback = await startCallbackServer();
  try {
    const started = await api.call('POST', '/v1/session-mfa/browser', SessionMfaBrowserStarted, {
      clusters,
      redirect: callback.redirect,
      verifierHash: secret.verifierHash,
      client: { name: 'ztsh', hostname: hostname() },
    });
    const page = checkPageUrl(started.url, proxy).href;
    say(`ztsh: ${safeText(clusters.join(', '))} ${clusters.length === 1 ? 'requires' : 'require'} a second factor for this session.\n`);
    say(`Open this URL in a browser on this machine to confirm with your security key:\n  ${safeText(page)}\n`);
    if (options.open) openBrowser(page, options.env);
    const seconds = Math.round(options.timeoutMs / 1000);
    return await callback.wait(
      async (outcome) => {
        if ('error' in outcome) throw browserCheckError(outcome);
        return api.call('POST', '/v1/session-mfa', SessionMfaResponse, { clusters, browser: { id: started.id, code: outcome.code, verifier: secret.verifier } });
      },
      (result) =>
        result instanceof CliError
          ? callbackPage('Session MFA failed', [result.message, result.hint ?? '', `ztsh on ${hostname()} got no session certificate.`], false)
          : callbackPage('Session MFA verified', [
              `ztsh on ${hostname()} may now reach ${result.clusters.join(', ')} through ${proxy.host} until ${localTime(result.validUntil)}.`,
              'You can close this tab.',
            ], true),
      options.timeoutMs,
      new CliError(`no answer from the browser within ${seconds} s: the security key check was not finished`, `${options.again}, and confirm with your security key in the page it shows in time`),
    );
  } finally {
    callback.close();
  }
}
