// Drives a whole browser login over plain HTTP (no JavaScript): start, IdP
// form, second factor, code exchange. For tests of the server's answers and
// for the login benchmark; the CLI and Chromium tests cover the real clients.
import { newClientSecrets } from '@ztsh/cli';
import { FormClient, type Page } from '@ztsh/testkit';
import { Agent, fetch } from 'undici';
import { generateSync } from 'otplib';

export interface LoginKeys {
  publicKey: string;
  privateKey: string;
  verifier: string;
  verifierHash: string;
}

/** The same key pair and verifier the CLI makes. */
export function newLoginKeys(): LoginKeys {
  const s = newClientSecrets();
  return { publicKey: s.publicKeyPem, privateKey: s.privateKeyPem, verifier: s.verifier, verifierHash: s.verifierHash };
}

export const CALLBACK = 'http://127.0.0.1:9/callback';

export function totpNow(secret: string, at = Date.now()): string {
  return generateSync({ secret, epoch: Math.floor(at / 1000) });
}

export interface ApiClient {
  post(path: string, body: unknown): Promise<{ status: number; json: any }>;
}

export function apiClient(base: URL, ca: string): ApiClient & { forms: () => FormClient; close: () => Promise<void> } {
  // One connection pool per client, as the CLI has; not a new one per call.
  const dispatcher = new Agent({ connect: { ca } });
  return {
    async post(path, body) {
      const res = await fetch(new URL(path, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        dispatcher,
      });
      return { status: res.status, json: await res.json() };
    },
    forms: () => new FormClient({ ca, stopAt: (u) => u.href.startsWith(CALLBACK) }),
    close: () => dispatcher.close(),
  };
}

export interface HttpLoginStep {
  keys: LoginKeys;
  loginId: string;
  forms: FormClient;
  /** The API client that started the login; its owner closes it. */
  api: ReturnType<typeof apiClient>;
  /** The page after the IdP (MFA page, or the stop at the callback). */
  page: Page;
}

/** Start a login and get through the IdP form; stops at whatever comes next. */
export async function throughIdp(
  base: URL,
  ca: string,
  user: { username: string; password: string },
  extra: Record<string, unknown> = {},
): Promise<HttpLoginStep> {
  const api = apiClient(base, ca);
  const keys = newLoginKeys();
  const started = await api.post('/v1/login/start', { publicKey: keys.publicKey, redirect: CALLBACK, verifierHash: keys.verifierHash, ...extra });
  if (started.status !== 201) throw new Error(`login/start: ${started.status} ${JSON.stringify(started.json)}`);
  const forms = api.forms();
  const idpPage = await forms.get(started.json.url);
  const page = await forms.submitForm(idpPage, { username: user.username, password: user.password });
  return { keys, loginId: started.json.loginId, forms, api, page };
}

export function codeFrom(page: Page): string | null {
  return page.url.startsWith(CALLBACK) ? new URL(page.url).searchParams.get('code') : null;
}

/** Full login with a TOTP code; returns the exchange answer. */
export async function httpLogin(base: URL, ca: string, user: { username: string; password: string; totpSecret?: string }, at = Date.now()) {
  const step = await throughIdp(base, ca, user);
  let page = step.page;
  if (!codeFrom(page)) {
    page = await step.forms.submitForm(page, { code: totpNow(user.totpSecret!, at) }, { formAction: '/mfa/totp' });
  }
  const code = codeFrom(page);
  if (!code) throw new Error(`no code after MFA: ${page.status} ${page.url}\n${page.html.slice(0, 500)}`);
  const exchanged = await step.api.post('/v1/login/exchange', { code, verifier: step.keys.verifier });
  await step.forms.close();
  await step.api.close();
  return { ...exchanged, keys: step.keys, code };
}
