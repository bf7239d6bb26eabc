// A session MFA check with a security key, as the CLI and the user do it:
// a loopback listener for the redirect, a login in Chromium with a virtual
// authenticator (enrolling the key on the first one), a check started with
// the login certificate and approved on its page with the same key.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { freshContext, launchBrowser, pageWithKey, type Browser } from './browser.ts';
import { apiClient, newLoginKeys } from './http-login.ts';
import { signInAtIdp } from './login-page.ts';
import { startSessionMfaEnv, type SessionMfaEnv } from './session-mfa-env.ts';
import { EXTRA_USERS } from './stack.ts';
import { rawRequest, type Credentials, type RawResponse } from '../security/helpers/raw-client.ts';

export interface Callback {
  /** http://127.0.0.1:PORT/callback */
  redirect: string;
  close(): Promise<void>;
}

/** The CLI's loopback listener: answers every request, so the browser's landing is a page like the CLI's. */
export async function startCallback(): Promise<Callback> {
  const server: Server = createServer((_req, res) => res.end('ztsh: you can close this tab'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { redirect: `http://127.0.0.1:${port}/callback`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The code the browser brought to the loopback redirect. */
async function landedCode(page: Page, callback: Callback): Promise<string> {
  await page.waitForURL((u) => u.href.startsWith(callback.redirect));
  const code = new URL(page.url()).searchParams.get('code');
  if (!code) throw new Error(`no code at the redirect: ${page.url()}`);
  return code;
}

/**
 * `ztsh login` in the browser for a user whose second factor is a security
 * key: registers it when the user has none yet, uses it otherwise. A fresh
 * key pair each time; answers the login certificate and its key.
 */
export async function loginWithKey(k: SessionMfaEnv, page: Page, user: { username: string; password: string }, callback: Callback): Promise<Credentials> {
  const api = apiClient(k.stack.url, k.stack.tlsCa);
  try {
    const keys = newLoginKeys();
    const started = await api.post('/v1/login/start', { publicKey: keys.publicKey, redirect: callback.redirect, verifierHash: keys.verifierHash });
    if (started.status !== 201) throw new Error(`login/start: ${started.status} ${JSON.stringify(started.json)}`);
    await page.goto(started.json.url);
    // The IdP remembers a user it signed in before in this context.
    await page.locator('#username, #webauthn-register, #webauthn-authenticate').first().waitFor();
    if (await page.locator('#username').count()) await signInAtIdp(page, user);
    await page.locator('#webauthn-register, #webauthn-authenticate').first().click();
    const code = await landedCode(page, callback);
    const exchanged = await api.post('/v1/login/exchange', { code, verifier: keys.verifier });
    if (exchanged.status !== 200) throw new Error(`login/exchange: ${exchanged.status} ${JSON.stringify(exchanged.json)}`);
    return { cert: exchanged.json.certificate, key: keys.privateKey };
  } finally {
    await api.close();
  }
}

export interface StartedCheck {
  res: RawResponse;
  id: string;
  url: string;
  verifier: string;
}

/** POST /v1/session-mfa/browser with these credentials, as the CLI does. */
export async function startCheck(k: SessionMfaEnv, as: Credentials | undefined, clusters: string[], redirect: string, extra: Record<string, unknown> = {}): Promise<StartedCheck> {
  const keys = newLoginKeys();
  const res = await rawRequest(
    { url: k.stack.url, tlsCa: k.stack.tlsCa },
    {
      method: 'POST',
      path: '/v1/session-mfa/browser',
      as,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clusters, redirect, verifierHash: keys.verifierHash, client: { name: 'ztsh', hostname: 'laptop-7' }, ...extra }),
    },
  );
  const body = res.status === 201 ? res.json() : {};
  return { res, id: body.id, url: body.url, verifier: keys.verifier };
}

/** Opens the check's page and answers with the key; the code the browser then brings to the redirect. */
export async function approveWithKey(page: Page, url: string, callback: Callback): Promise<string> {
  await page.goto(url);
  await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
  await page.locator('#webauthn-authenticate').click();
  return landedCode(page, callback);
}

/** GET /v1/session-mfa with these credentials. */
export function sessionMfaMethods(k: SessionMfaEnv, as: Credentials | undefined): Promise<RawResponse> {
  return rawRequest({ url: k.stack.url, tlsCa: k.stack.tlsCa }, { path: '/v1/session-mfa', as });
}

export interface ErinWithKey {
  k: SessionMfaEnv;
  browser: Browser;
  /** A page in a context that holds erin's security key. */
  page: Page;
  callback: Callback;
  /** erin's login certificate. */
  erin: Credentials;
  close(): Promise<void>;
}

/** The session MFA stack with erin, whose only second factor is a security key, logged in through Chromium holding that key. */
export async function startErinWithKey(): Promise<ErinWithKey> {
  const k = await startSessionMfaEnv({ users: [EXTRA_USERS.erin] });
  const browser = await launchBrowser();
  const page = await pageWithKey(await freshContext(browser));
  const callback = await startCallback();
  const erin = await loginWithKey(k, page, EXTRA_USERS.erin, callback);
  return {
    k,
    browser,
    page,
    callback,
    erin,
    close: async () => {
      await browser.close();
      await callback.close();
      await k.close();
    },
  };
}
