// ztsh login: SSO + second factor in a browser (or a device code on headless
// machines), ending with a certificate for a key made here.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { Certificates, DeviceStartResponse, LoginStartResponse, type Certificates as CertificatesT } from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import { apiFor, resolveProxy, type CliContext } from '../context.ts';
import type { ApiClient } from '../http.ts';
import { callbackPage, startCallbackServer, type CallbackOutcome } from '../login/callback-server.ts';
import { newClientSecrets, type ClientSecrets } from '../login/keys.ts';
import { openBrowser } from '../login/open-browser.ts';
import { describeValidity } from './status.ts';
import { safeText } from '../terminal-safe.ts';
import { localTime } from '../local-time.ts';
import { loginWithRequests } from './login-request.ts';

export interface LoginOptions {
  proxy?: string;
  connector?: string;
  ttl?: string;
  browser: boolean;
  headless?: boolean;
  caFile?: string;
  timeout: string;
  /** Re-issue the current certificate with approved access requests instead of signing in. */
  requestId?: string[];
}

export const VERSION = '0.1.0';

export function parseTimeout(text: string): number {
  const m = /^(\d+)(s|m)$/.exec(text);
  if (!m) throw new CliError(`--timeout "${text}" must look like 90s or 5m`, undefined, 2);
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : 1000);
}

const FAILURES: Record<string, string> = {
  idp_denied: 'the identity provider denied the login',
  no_roles: 'login refused',
  mfa_failed: 'the second factor failed',
  mfa_locked: 'the second factor is locked after too many wrong codes',
  id_token_invalid: 'the identity provider\'s answer failed verification',
};

function outcomeError(outcome: Extract<CallbackOutcome, { error: string }>): CliError {
  const lead = FAILURES[outcome.error];
  return new CliError(lead ? `${lead}: ${outcome.description}` : outcome.description, outcome.hint, 1, outcome.error);
}

export async function login(ctx: CliContext, options: LoginOptions): Promise<void> {
  if (options.requestId?.length) {
    if (options.headless || options.connector || options.ttl || options.caFile) throw new CliError('--request-id re-issues the current certificate: it takes no sign-in options', 'run ztsh login first, then ztsh login --request-id ID', 2);
    return loginWithRequests(ctx, { proxy: options.proxy, requestId: options.requestId });
  }
  const proxy = resolveProxy(ctx, options.proxy);
  const timeoutMs = parseTimeout(options.timeout);
  if (options.ttl && !/^\d+(s|m|h)$/.test(options.ttl)) throw new CliError(`--ttl "${options.ttl}" must look like 30m or 8h`, undefined, 2);
  const api = apiFor(ctx, proxy, options.caFile);
  const secrets = newClientSecrets(keptKey(ctx, proxy, Date.now()));
  const run: LoginRun = { ctx, api, secrets, options, client: { name: 'ztsh', hostname: hostname(), version: VERSION }, timeoutMs };
  try {
    const certs = options.headless ? await deviceLogin(run) : await browserLogin(run, proxy);
    ctx.home.writeProfile(proxy, {
      meta: {
        proxy: proxy.origin,
        user: certs.user,
        roles: certs.roles,
        kubernetesGroups: certs.kubernetesGroups,
        kubernetesUsers: certs.kubernetesUsers,
        mfaVerified: certs.mfaVerified,
        mfaMethod: certs.mfaMethod,
        validUntil: certs.validUntil,
        loggedInAt: new Date().toISOString(),
      },
      keyPem: secrets.privateKeyPem,
      certPem: certs.certificate,
      userCaPem: certs.userCaCertificates.join(''),
      hostCaPem: certs.hostCaCertificates.join(''),
    });
    if (options.caFile) ctx.home.writeTrust(proxy, readFileSync(options.caFile, 'utf8'));
    ctx.home.setCurrent(proxy);
    ctx.stdout(
      `Logged in to ${proxy.origin} as ${safeText(certs.user)} (roles: ${safeText(certs.roles.join(', '))}; second factor: ${safeText(certs.mfaMethod ?? 'none')}).\n` +
        `Certificate valid until ${safeText(localTime(certs.validUntil))} (${describeValidity(new Date(certs.validUntil))}).\n`,
    );
  } finally {
    await api.close();
  }
}

/**
 * The key to keep: the stored one while its certificate is still valid.
 * kubectl reads the key and the certificate from the kube file in two reads
 * (home.ts), so a re-login that changed the key could hand a running kubectl
 * a pair that does not match; with the key kept, every pair matches. When the
 * certificate has expired (or after ztsh logout) the login makes a new key:
 * a kubectl racing that login was failing anyway, on the expired certificate.
 */
function keptKey(ctx: CliContext, proxy: URL, now: number): string | undefined {
  try {
    const stored = ctx.home.readProfile(proxy);
    if (!stored) return undefined;
    createPublicKey(stored.keyPem);
    return new Date(new X509Certificate(stored.certPem).validTo).getTime() > now ? stored.keyPem : undefined;
  } catch {
    // An unreadable profile is replaced by this login, with a new key.
    return undefined;
  }
}

/** One login attempt: what both flows need. */
interface LoginRun {
  ctx: CliContext;
  api: ApiClient;
  secrets: ClientSecrets;
  options: LoginOptions;
  client: { name: string; hostname: string; version: string };
  timeoutMs: number;
}

/** The part of a start request both flows send: never more than the public key and a hash. */
function startBody(run: LoginRun) {
  return {
    ...(run.options.connector ? { connector: run.options.connector } : {}),
    publicKey: run.secrets.publicKeyPem,
    verifierHash: run.secrets.verifierHash,
    ...(run.options.ttl ? { ttl: run.options.ttl } : {}),
    client: run.client,
  };
}

async function browserLogin(run: LoginRun, proxy: URL): Promise<CertificatesT> {
  const { ctx, api, secrets, options, client, timeoutMs } = run;
  const callback = await startCallbackServer();
  try {
    const started = await api.call('POST', '/v1/login/start', LoginStartResponse, { ...startBody(run), redirect: callback.redirect });
    const opened = options.browser && openBrowser(started.url, ctx.env);
    ctx.stderr(
      opened
        ? `Opening your browser to sign in. If it does not open, visit:\n  ${safeText(started.url)}\n`
        : `Open this URL in a browser on this machine to sign in:\n  ${safeText(started.url)}\n`,
    );
    return await callback.wait(
      async (outcome) => {
        if ('error' in outcome) throw outcomeError(outcome);
        return api.call('POST', '/v1/login/exchange', Certificates, { code: outcome.code, verifier: secrets.verifier });
      },
      (result) =>
        result instanceof CliError
          ? callbackPage('Login failed', [result.message, result.hint ?? '', `ztsh on ${client.hostname} is not logged in.`], false)
          : callbackPage('Logged in', [
              `ztsh on ${client.hostname} is now logged in to ${proxy.host} as ${result.user}.`,
              `Roles: ${result.roles.join(', ')}. The certificate is valid until ${localTime(result.validUntil)}.`,
              'You can close this tab.',
            ], true),
      timeoutMs,
    );
  } finally {
    callback.close();
  }
}

async function deviceLogin(run: LoginRun): Promise<CertificatesT> {
  const { ctx, api, secrets, timeoutMs } = run;
  const started = await api.call('POST', '/v1/login/device', DeviceStartResponse, startBody(run));
  ctx.stderr(
    `To sign in, open ${safeText(started.verificationUri)} in any browser and enter the code ${safeText(started.userCode)}\n` +
      `  or open: ${safeText(started.verificationUriComplete)}\nWaiting for approval…\n`,
  );
  const deadline = Math.min(Date.now() + timeoutMs, new Date(started.expiresAt).getTime());
  let interval = started.interval * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, interval));
    try {
      return await api.call('POST', '/v1/login/device/token', Certificates, { deviceCode: started.deviceCode, verifier: secrets.verifier });
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      if (error.code === 'authorization_pending') continue;
      if (error.code === 'slow_down') {
        interval += 1000;
        continue;
      }
      throw error.code && FAILURES[error.code] ? new CliError(`${FAILURES[error.code]}: ${error.message}`, error.hint, 1, error.code) : error;
    }
  }
  throw new CliError('login timed out waiting for approval in the browser', 'run ztsh login --headless again and approve the code in time');
}
