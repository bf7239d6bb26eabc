// One session MFA check: ask for a TOTP code on the terminal (or confirm
// with a security key in the browser: session-mfa-browser.ts), send it with
// the login certificate to POST /v1/session-mfa, keep the short certificate
// that comes back (session-mfa-cache.ts). Which of the two:
// session-mfa-method.ts. `ztsh kube mfa` runs it for the
// clusters it is given; the credential plugin runs it when kubectl needs a
// cluster no fresh certificate covers, binding every cluster that requires
// session MFA, so one check covers them all for the interval.
//
// Loaded only when a check is needed: it brings the HTTP client and schemas.
import { X509Certificate } from 'node:crypto';
import { SessionMfaResponse } from '@ztsh/protocol';
import { z } from 'zod';
import { CliError } from '../cli-error.ts';
import type { ZtshHome } from '../home.ts';
import { ApiClient } from '../http.ts';
import { localTime } from '../local-time.ts';
import { safeText } from '../terminal-safe.ts';
import type { KeyPair } from './read-key-pair.ts';
import { certificateSha256, usableUntil, writeSessionMfaCache, type SessionMfaCache } from './session-mfa-cache.ts';
import { browserSessionMfa, BROWSER_CHECK_TIMEOUT_MS } from './session-mfa-browser.ts';
import { chooseSessionMfaMethod, type SessionMfaMethod } from './session-mfa-method.ts';
import { sessionMfaRefusal } from './session-mfa-refusal.ts';
import { openTerminal, type Terminal } from './terminal.ts';

const ClusterMarks = z.object({ clusters: z.array(z.object({ name: z.string(), sessionMfa: z.boolean().optional() })) });

/** How many codes one check takes before it gives up (auth's back-off counts them too). */
const ATTEMPTS = 3;
const CODE_TIMEOUT_MS = 5 * 60_000;
/** Refusals a new code can cure: a mistyped or stale code, or one already used. */
const RETRYABLE = new Set(['mfa_failed', 'mfa_code_reused']);

export function userApi(home: ZtshHome, proxy: URL, login: KeyPair): ApiClient {
  return new ApiClient({ proxy, ca: home.readTrust(proxy), client: { cert: login.certPem, key: login.keyPem } });
}

/** The clusters the user's roles reach, and which of them require session MFA. */
export async function clusterMarks(api: ApiClient): Promise<{ name: string; sessionMfa: boolean }[]> {
  const list = await api.call('GET', '/v1/clusters', ClusterMarks);
  return list.clusters.map((c) => ({ name: c.name, sessionMfa: c.sessionMfa === true }));
}

export type SessionMfaCheck =
  | { method: 'totp'; terminal: Terminal }
  | { method: 'webauthn'; say(text: string): void; open: boolean; env: Record<string, string | undefined>; timeoutMs: number; again: string };

/** One check by the chosen method, gets the certificate for `clusters`, and caches it. */
export async function verifySessionMfa(options: {
  home: ZtshHome;
  proxy: URL;
  login: KeyPair;
  api: ApiClient;
  clusters: string[];
  check: SessionMfaCheck;
}): Promise<SessionMfaCache> {
  const { api, proxy, clusters, check } = options;
  const answer = check.method === 'totp' ? await totpSessionMfa(api, clusters, check.terminal) : await browserSessionMfa({ api, proxy, clusters, ...check });
  return keepSessionMfa(options, answer);
}

/** Asks for a code (a few tries) and sends it. */
async function totpSessionMfa(api: ApiClient, clusters: string[], terminal: Terminal): Promise<SessionMfaResponse> {
  const prompt = `ztsh: ${safeText(clusters.join(', '))} ${clusters.length === 1 ? 'requires' : 'require'} a second factor for this session.\nEnter the code from your authenticator app: `;
  let answer: SessionMfaResponse | undefined;
  for (let attempt = 1; !answer; attempt++) {
    const code = await terminal.readCode(prompt, CODE_TIMEOUT_MS);
    if (!/^\d{6,8}$/.test(code)) {
      if (attempt >= ATTEMPTS) throw new CliError('no valid code was entered', 'a code is the 6 to 8 digits your authenticator app shows for ztsh');
      terminal.write('A code is 6 to 8 digits. ');
      continue;
    }
    try {
      answer = await api.call('POST', '/v1/session-mfa', SessionMfaResponse, { clusters, totp: { code } });
    } catch (error) {
      if (!(error instanceof CliError) || !RETRYABLE.has(error.code ?? '') || attempt >= ATTEMPTS) throw error;
      terminal.write(`${safeText(error.message)}\n`);
    }
  }
  return answer;
}

/** Checks the answer is for the login's key and caches it. */
function keepSessionMfa(options: { home: ZtshHome; proxy: URL; login: KeyPair }, answer: SessionMfaResponse): SessionMfaCache {
  const certificate = answer.certificate;
  let sameKey: boolean;
  try {
    sameKey = new X509Certificate(certificate).publicKey.equals(new X509Certificate(options.login.certPem).publicKey);
  } catch {
    sameKey = false;
  }
  // kubectl would only fail its TLS handshake on a certificate for another key: say so here instead.
  if (!sameKey) throw new CliError('the session MFA certificate the proxy sent is not for this login\'s key', `run ztsh login --proxy ${options.proxy.origin}, then try again`);
  const cache: SessionMfaCache = {
    proxy: options.proxy.origin,
    loginCertificateSha256: certificateSha256(options.login.certPem),
    clusters: answer.clusters,
    validUntil: answer.validUntil,
    issuedAt: answer.issuedAt,
    certificate,
  };
  if (!Number.isFinite(usableUntil(cache))) throw new CliError('the proxy sent a session MFA certificate this ztsh cannot read', 'update ztsh to the version of the proxy');
  writeSessionMfaCache(options.home, options.proxy, cache);
  return cache;
}

export function describeSessionMfa(cache: SessionMfaCache): string {
  return `Session MFA verified for ${safeText(cache.clusters.join(', '))} until ${localTime(cache.validUntil)}.\n`;
}

/**
 * The credential plugin's check for `cluster`: binds every cluster the user
 * reaches that requires session MFA (and `cluster`). Undefined when the
 * cluster does not require it: the login's certificate is enough, and when
 * the roles do not reach it at all the proxy's refusal says why.
 */
export async function sessionMfaOnTerminal(options: {
  home: ZtshHome;
  proxy: URL;
  login: KeyPair;
  cluster: string;
  env: Record<string, string | undefined>;
}): Promise<{ certPem: string; expiresAt: Date } | undefined> {
  const terminal = openTerminal();
  if (!terminal) throw sessionMfaRefusal(options.cluster);
  const api = userApi(options.home, options.proxy, options.login);
  try {
    const marks = await clusterMarks(api);
    if (!marks.some((c) => c.name === options.cluster && c.sessionMfa)) return undefined;
    const clusters = marks.filter((c) => c.sessionMfa).map((c) => c.name);
    const method = await chooseSessionMfaMethod(api, { terminal: true });
    const cache = await verifySessionMfa({ ...options, api, clusters, check: pluginCheck(method, terminal, options.env) });
    if (!cache.clusters.includes(options.cluster)) throw new CliError(`the proxy did not bind cluster "${options.cluster}" to the session MFA certificate`, 'run ztsh kube mfa --clusters ' + options.cluster);
    terminal.write(describeSessionMfa(cache));
    // An interval shorter than the margin still serves this one call.
    return { certPem: cache.certificate, expiresAt: new Date(Math.max(usableUntil(cache), Date.now() + 1000)) };
  } finally {
    terminal.close();
    await api.close();
  }
}

/**
 * The plugin speaks only on the terminal: kubectl parses its stdout. The
 * browser opens unless ZTSH_NO_BROWSER=1 (a machine with no browser, or one
 * reached over ssh: the URL is on the terminal either way).
 */
function pluginCheck(method: SessionMfaMethod, terminal: Terminal, env: Record<string, string | undefined>): SessionMfaCheck {
  if (method === 'totp') return { method, terminal };
  return {
    method,
    say: (text) => terminal.write(text),
    open: !noBrowser(env),
    env,
    timeoutMs: BROWSER_CHECK_TIMEOUT_MS,
    again: 'run the kubectl command again',
  };
}

/** ZTSH_NO_BROWSER=1 (or true/yes): print the security key page, never open it. */
export function noBrowser(env: Record<string, string | undefined>): boolean {
  return /^(1|true|yes)$/i.test(env.ZTSH_NO_BROWSER ?? '');
}
