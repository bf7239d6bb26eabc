// Abuse of the session MFA browser check (a security key): its code must
// never become a login certificate, a login's code never a session MFA one;
// the redeem holds every binding (user, key, certificate, clusters,
// verifier, single use); the page is bound to the first browser, never
// enrolls, and the check ends after 5 minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { freshContext, type Browser } from '../helpers/browser.ts';
import { apiClient, codeFrom, throughIdp } from '../helpers/http-login.ts';
import { approveWithKey, type Callback, type ErinWithKey, loginWithKey, startCheck, startErinWithKey } from '../helpers/session-mfa-browser.ts';
import type { SessionMfaEnv } from '../helpers/session-mfa-env.ts';
import { EXTRA_USERS } from '../helpers/stack.ts';
import { rawRequest, type Credentials, type RawResponse } from './helpers/raw-client.ts';

let env: ErinWithKey;
let k: SessionMfaEnv;
let browser: Browser;
let page: Page;
let callback: Callback;
/** erin's login certificate, and a second login of hers with another key. */
let erin: Credentials;
let erinOtherKey: Credentials;

beforeAll(async () => {
  env = await startErinWithKey();
  ({ k, browser, page, callback, erin } = env);
  erinOtherKey = await loginWithKey(k, page, EXTRA_USERS.erin, callback);
}, 300_000);
afterAll(() => env?.close());

const target = () => ({ url: k.stack.url, tlsCa: k.stack.tlsCa });
const audit = async (type: string) => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).filter((e) => e.type === type);

/** A check of erin's, approved with her key in the browser. */
async function approvedCheck(clusters = ['prod-a']) {
  const check = await startCheck(k, erin, clusters, callback.redirect);
  expect(check.res.status, check.res.body).toBe(201);
  const code = await approveWithKey(page, check.url, callback);
  return { ...check, code };
}

const redeem = (as: Credentials, check: { id: string; code: string; verifier: string }, clusters = ['prod-a']) =>
  k.sessionMfa(as, { clusters, browser: { id: check.id, code: check.code, verifier: check.verifier } });

function refusedWith(res: RawResponse, status: number, code: string): void {
  expect(res.status, res.body).toBe(status);
  expect(res.json().error.code).toBe(code);
  expect(res.body).not.toContain('BEGIN CERTIFICATE');
}

/** The cookies a response sets, as a Cookie header. */
function cookiesOf(res: RawResponse): string {
  const raw = res.headers['set-cookie'] ?? '';
  return [...raw.matchAll(/(?:^|,\s*)(ztsh_login(?:\.sig)?)=([^;]*)/g)].map((m) => `${m[1]}=${m[2]}`).join('; ');
}

describe('the check and logins never stand in for each other', () => {
  it('refuses a check code at POST /v1/login/exchange, gives no certificate, and ends the check', async () => {
    const check = await approvedCheck();
    const api = apiClient(k.stack.url, k.stack.tlsCa);
    try {
      const exchanged = await api.post('/v1/login/exchange', { code: check.code, verifier: check.verifier });
      expect(exchanged.status).toBe(400);
      expect(exchanged.json.error.code).toBe('code_invalid');
      expect(exchanged.json.certificate).toBeUndefined();
    } finally {
      await api.close();
    }
    refusedWith(await redeem(erin, check), 400, 'code_invalid');
    expect((await audit('cert.issued')).filter((e) => e.success && e.loginId === check.id)).toEqual([]);
  });

  it('refuses a login code at POST /v1/session-mfa', async () => {
    const step = await throughIdp(k.stack.url, k.stack.tlsCa, { username: 'alice', password: 'alice-dev-password' });
    try {
      const loggedIn = await step.forms.submitForm(step.page, { code: k.freshCode() }, { formAction: '/mfa/totp' });
      const code = codeFrom(loggedIn);
      expect(code).toBeTruthy();
      const res = await redeem(k.alice, { id: step.loginId, code: code!, verifier: step.keys.verifier });
      refusedWith(res, 400, 'code_invalid');
      expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { reason: 'code_invalid' } });
    } finally {
      await step.forms.close();
      await step.api.close();
    }
  });

  it('never sends a check to the IdP, and has no approval page', async () => {
    const check = await startCheck(k, erin, ['prod-a'], callback.redirect);
    const opened = await rawRequest(target(), { path: `/login/${check.id}` });
    expect(opened.status).toBe(302);
    expect(opened.headers.location).toBe(`/login/${check.id}/mfa`);
    expect((await rawRequest(target(), { path: `/login/${check.id}/approved` })).status).toBe(404);
  });
});

describe('the redeem holds every binding', () => {
  it('refuses another user\'s certificate, and the check is then spent', async () => {
    const check = await approvedCheck();
    refusedWith(await redeem(k.alice, check), 403, 'access_denied');
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { reason: 'user_mismatch' } });
    refusedWith(await redeem(erin, check), 400, 'code_invalid');
  });

  it('refuses the same user\'s certificate for another key', async () => {
    const check = await approvedCheck();
    refusedWith(await redeem(erinOtherKey, check), 403, 'access_denied');
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, user: 'erin', fields: { reason: 'key_mismatch' } });
    refusedWith(await redeem(erin, check), 400, 'code_invalid');
  });

  it('burns the check on a wrong verifier: the right one then fails too', async () => {
    const check = await approvedCheck();
    refusedWith(await redeem(erin, { ...check, verifier: 'x'.repeat(43) }), 400, 'verifier_mismatch');
    refusedWith(await redeem(erin, check), 400, 'code_invalid');
  });

  it('refuses clusters other than those the check started with', async () => {
    const check = await approvedCheck(['prod-a']);
    refusedWith(await redeem(erin, check, ['prod-a', 'prod-b']), 403, 'access_denied');
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, fields: { reason: 'clusters_mismatch' } });
  });

  it('takes a code once: a replay is refused', async () => {
    const check = await approvedCheck();
    expect((await redeem(erin, check)).status).toBe(200);
    refusedWith(await redeem(erin, check), 400, 'code_invalid');
  });

  it('gives exactly one certificate to redeems sent at once', async () => {
    const check = await approvedCheck();
    const answers = await Promise.all(Array.from({ length: 6 }, () => redeem(erin, check)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    for (const a of answers.filter((a) => a.status !== 200)) expect(a.json().error.code).toBe('code_invalid');
  });

  it('refuses a wrong code without spending the check', async () => {
    const check = await approvedCheck();
    refusedWith(await redeem(erin, { ...check, code: 'A'.repeat(43) }), 400, 'code_invalid');
    expect((await redeem(erin, check)).status).toBe(200);
  });

  it('refuses a user locked after the touch', async () => {
    const check = await approvedCheck();
    const lock = await k.stack.ztshd.auth.deps.locks.add({ target: { user: 'erin' }, message: 'incident 7', createdBy: 'bob' });
    try {
      refusedWith(await redeem(erin, check), 403, 'locked');
    } finally {
      await k.stack.ztshd.auth.deps.locks.remove(lock.id, 'bob');
    }
  });
});

describe('starting a check', () => {
  it('refuses a session MFA certificate', async () => {
    const check = await approvedCheck();
    const issued = await redeem(erin, check);
    expect(issued.status).toBe(200);
    const short = { cert: issued.json().certificate, key: erin.key };
    const again = await startCheck(k, short, ['prod-a'], callback.redirect);
    refusedWith(again.res, 403, 'access_denied');
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, fields: { reason: 'session_mfa_certificate', stage: 'start' } });
  });

  it('refuses a locked user', async () => {
    const lock = await k.stack.ztshd.auth.deps.locks.add({ target: { user: 'erin' }, message: 'incident 8', createdBy: 'bob' });
    try {
      refusedWith((await startCheck(k, erin, ['prod-a'], callback.redirect)).res, 403, 'locked');
    } finally {
      await k.stack.ztshd.auth.deps.locks.remove(lock.id, 'bob');
    }
  });

  it('refuses no certificate, and a user with no security key (no page that could enroll one)', async () => {
    expect((await startCheck(k, undefined, ['prod-a'], callback.redirect)).res.status).toBe(401);
    const alice = await startCheck(k, k.alice, ['prod-a'], callback.redirect);
    refusedWith(alice.res, 403, 'access_denied');
    expect(alice.res.json().error.hint).toContain('authenticator app');
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { reason: 'no_webauthn_device' } });
  });

  it('refuses a redirect that is not loopback, and malformed clusters (schema)', async () => {
    for (const redirect of ['https://evil.example/callback', 'http://evil.example/callback', 'http://127.0.0.1.evil.example:80/callback', 'http://[::ffff:1.2.3.4]:80/callback', 'javascript:alert(1)']) {
      refusedWith((await startCheck(k, erin, ['prod-a'], redirect)).res, 400, 'bad_request');
    }
    for (const clusters of [[], ['../prod-a'], ['prod a'], Array.from({ length: 65 }, (_, i) => `c${i}`)]) {
      refusedWith((await startCheck(k, erin, clusters, callback.redirect)).res, 400, 'bad_request');
    }
    refusedWith((await startCheck(k, erin, ['prod-a'], callback.redirect, { user: 'alice' })).res, 400, 'bad_request');
  });
});

describe('the page', () => {
  it('is bound to the first browser that opens it: a second one is refused', async () => {
    const check = await startCheck(k, erin, ['prod-a'], callback.redirect);
    await page.goto(check.url);
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    const second = await rawRequest(target(), { path: `/login/${check.id}`, headers: { accept: 'text/html' } });
    expect(second.status).toBe(400);
    expect(second.body).toContain('opened in another browser');
    expect(second.headers['set-cookie']).toBeUndefined();
    expect((await rawRequest(target(), { path: `/login/${check.id}/mfa` })).status).toBe(400);
    // Another Chromium profile gets the same refusal page.
    const other = await freshContext(browser);
    try {
      const otherPage = await other.newPage();
      await otherPage.goto(check.url);
      await expect(otherPage.locator('body').textContent()).resolves.toContain('opened in another browser');
    } finally {
      await other.close();
    }
    // The first browser still completes it.
    const code = await approveWithKey(page, check.url, callback);
    expect((await redeem(erin, { ...check, code })).status).toBe(200);
  });

  it('never enrolls: not for a user with a key, nor for one with none', async () => {
    const check = await startCheck(k, erin, ['prod-a'], callback.redirect);
    const opened = await rawRequest(target(), { path: `/login/${check.id}` });
    const cookie = cookiesOf(opened);
    expect(cookie).toContain('ztsh_login=');
    const post = (path: string, body: unknown) =>
      rawRequest(target(), { method: 'POST', path: `/login/${check.id}/mfa/${path}`, headers: { cookie, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
    refusedWith(await post('webauthn/options', { mode: 'register' }), 403, 'access_denied');
    refusedWith(await post('webauthn/verify', { mode: 'register', response: {} }), 403, 'access_denied');
    refusedWith(await post('totp/enroll', { code: '123456' }), 403, 'access_denied');
    expect((await rawRequest(target(), { path: `/login/${check.id}/mfa`, headers: { cookie } })).status).toBe(200);

    // A check for a user with no device at all (the start refuses one; here it is put in the store as if it had not).
    const stored = (await k.stack.ztshd.auth.storage.logins.get(check.id))!;
    await k.stack.ztshd.auth.storage.logins.insert({ ...stored, id: 'nodevice-check', user: 'frank', status: 'started', browserHash: null, mfaPending: null });
    const frank = await rawRequest(target(), { path: '/login/nodevice-check' });
    const frankCookie = cookiesOf(frank);
    const page = await rawRequest(target(), { path: '/login/nodevice-check/mfa', headers: { cookie: frankCookie, accept: 'text/html' } });
    expect(page.status).toBe(403);
    expect(page.body).toContain('cannot enroll');
    expect(page.body).not.toContain('totp-secret');
    expect(await k.stack.ztshd.auth.storage.mfa.list('frank')).toEqual([]);
  });

  it('ends 5 minutes after the start', async () => {
    const check = await startCheck(k, erin, ['prod-a'], callback.redirect);
    k.clock.advance(5 * 60_000 + 1000);
    const opened = await rawRequest(target(), { path: `/login/${check.id}` });
    expect(opened.status).toBe(410);
    expect(opened.headers['set-cookie']).toBeUndefined();
  });
});
