// Bad input at every step of a login, each refused with a clear error and
// nothing half-done. Driven over HTTP against the real stack; time moves on
// an injected clock, never by sleeping.
import { generateKeyPairSync, sign } from 'node:crypto';
import { ManualClock } from '@ztsh/auth';
import { DEV_USERS } from '@ztsh/server';
import { FormClient } from '@ztsh/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiClient, CALLBACK, codeFrom, httpLogin, throughIdp, totpNow } from './helpers/http-login.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';

const [alice, bob, carol] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];
const clock = new ManualClock(Date.now());
let tamper: (idToken: string) => string = (t) => t;
let stack: TestStack;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  stack = await startTestStack({ clock, tamperIdToken: (t) => tamper(t) });
  api = apiClient(stack.url, stack.tlsCa);
});
afterAll(() => stack?.close());
beforeEach(() => {
  tamper = (t) => t;
  // A fresh TOTP step for every test: codes are single use.
  clock.advance(31_000);
});

const now = () => clock.now().getTime();
const totpSubmit = (step: Awaited<ReturnType<typeof throughIdp>>, code: string) =>
  step.forms.submitForm(step.page, { code }, { formAction: '/mfa/totp' });
const auditOf = async (type: string) => (await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === type);

describe('one-time login codes', () => {
  it('refuses a replayed code', async () => {
    const first = await httpLogin(stack.url, stack.tlsCa, alice, now());
    expect(first.status).toBe(200);
    const again = await api.post('/v1/login/exchange', { code: first.code, verifier: first.keys.verifier });
    expect(again.status).toBe(400);
    expect(again.json.error).toMatchObject({ code: 'code_invalid', message: 'the login code is invalid or was already used' });
  });

  it('refuses a code presented after its 60 s', async () => {
    const step = await throughIdp(stack.url, stack.tlsCa, bob);
    const code = codeFrom(await totpSubmit(step, totpNow(bob.totpSecret!, now())))!;
    clock.advance(61_000);
    const late = await api.post('/v1/login/exchange', { code, verifier: step.keys.verifier });
    expect(late.status).toBe(410);
    expect(late.json.error.code).toBe('login_expired');
    expect(late.json.error.hint).toBe('run ztsh login again');
  });

  it('refuses the wrong verifier and then burns the code for the right one too', async () => {
    const step = await throughIdp(stack.url, stack.tlsCa, carol);
    const code = codeFrom(await totpSubmit(step, totpNow(carol.totpSecret!, now())))!;
    const wrong = await api.post('/v1/login/exchange', { code, verifier: 'x'.repeat(43) });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.code).toBe('verifier_mismatch');
    const right = await api.post('/v1/login/exchange', { code, verifier: step.keys.verifier });
    expect(right.json.error.code).toBe('code_invalid');
    expect((await auditOf('cert.issued')).filter((e) => !e.success).map((e) => e.fields.reason)).toContain('verifier_mismatch');
  });
});

describe('the IdP leg', () => {
  it('refuses a callback whose state belongs to no login', async () => {
    const forms = new FormClient({ ca: stack.tlsCa });
    const page = await forms.get(new URL('/oidc/callback?state=forged&code=abc', stack.url));
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-code="state_mismatch"');
    expect(page.html).toContain('does not belong to a login in progress');
  });

  it('refuses a callback carried to another browser (no binding cookie)', async () => {
    const started = await api.post('/v1/login/start', {
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
      redirect: CALLBACK,
      verifierHash: 'a'.repeat(43),
    });
    const mine = new FormClient({ ca: stack.tlsCa, stopAt: (u) => u.pathname === '/oidc/callback' });
    const idpPage = await mine.get(started.json.url);
    const atCallback = await mine.submitForm(idpPage, { username: alice.username, password: alice.password });
    expect(atCallback.url).toContain('/oidc/callback?');
    const other = new FormClient({ ca: stack.tlsCa, stopAt: (u) => u.href.startsWith(CALLBACK) });
    const page = await other.get(atCallback.url);
    expect(new URL(page.url).searchParams.get('error')).toBe('state_mismatch');
    expect(new URL(page.url).searchParams.get('error_description')).toBe('this browser did not start this login');
  });

  it('refuses a tampered ID token', async () => {
    tamper = (t) => {
      const [h, p, s] = t.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      claims.groups = ['DevOps'];
      return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    };
    const step = await throughIdp(stack.url, stack.tlsCa, alice);
    const callback = new URL(step.page.url);
    expect(callback.searchParams.get('error')).toBe('id_token_invalid');
    expect(codeFrom(step.page)).toBeNull();
  });

  it('refuses an ID token signed by another key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    tamper = (t) => {
      const [h, p] = t.split('.');
      const signature = sign('sha256', Buffer.from(`${h}.${p}`), privateKey).toString('base64url');
      return `${h}.${p}.${signature}`;
    };
    const step = await throughIdp(stack.url, stack.tlsCa, alice);
    expect(new URL(step.page.url).searchParams.get('error')).toBe('id_token_invalid');
    const failures = (await auditOf('user.login')).filter((e) => !e.success && e.fields.reason === 'id_token_invalid');
    expect(failures.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses an unknown connector and names the known ones', async () => {
    const res = await api.post('/v1/login/start', {
      connector: 'okta',
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
      redirect: CALLBACK,
      verifierHash: 'a'.repeat(43),
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'unknown_connector', message: 'unknown connector "okta"', hint: 'known connectors: dev' });
  });

  it('refuses a private key where the public key belongs', async () => {
    const res = await api.post('/v1/login/start', {
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      redirect: CALLBACK,
      verifierHash: 'a'.repeat(43),
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/body\.publicKey: must be a PEM PUBLIC KEY/);
  });

  it('expires a login left unfinished for 10 minutes', async () => {
    const started = await api.post('/v1/login/start', {
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
      redirect: CALLBACK,
      verifierHash: 'a'.repeat(43),
    });
    clock.advance(11 * 60_000);
    const page = await new FormClient({ ca: stack.tlsCa }).get(started.json.url);
    expect(page.status).toBe(410);
    expect(page.html).toContain('this login has expired');
  });
});

describe('TOTP', () => {
  it('shows a wrong code on the page, counts down the tries, then accepts the right one', async () => {
    const step = await throughIdp(stack.url, stack.tlsCa, bob);
    const wrong = await totpSubmit(step, '000000');
    expect(wrong.status).toBe(401);
    expect(wrong.html).toMatch(/wrong authenticator code\. 4 tries left\./);
    const right = await step.forms.submitForm(wrong, { code: totpNow(bob.totpSecret!, now()) }, { formAction: '/mfa/totp' });
    expect(codeFrom(right)).toBeTruthy();
  });

  it('refuses a code that was already used in this time step', async () => {
    const code = totpNow(carol.totpSecret!, now());
    const first = await throughIdp(stack.url, stack.tlsCa, carol);
    expect(codeFrom(await totpSubmit(first, code))).toBeTruthy();
    const second = await throughIdp(stack.url, stack.tlsCa, carol);
    const reused = await totpSubmit(second, code);
    expect(reused.status).toBe(401);
    expect(reused.html).toContain('this code was already used; wait for the next one');
    expect((await auditOf('user.mfa')).at(-1)).toMatchObject({ user: 'carol', success: false, fields: { reason: 'mfa_code_reused' } });
  });

  it('backs off after five wrong codes, even for the right one, until the lock expires', async () => {
    let step = await throughIdp(stack.url, stack.tlsCa, alice);
    let page = step.page;
    for (let i = 1; i <= 5; i++) {
      page = await step.forms.submitForm(page, { code: '123456' === totpNow(alice.totpSecret!, now()) ? '654321' : '123456' }, { formAction: '/mfa/totp' });
      expect(page.status).toBe(401);
    }
    expect(page.html).toContain('Locked for 1 minute(s).');
    const locked = await step.forms.submitForm(page, { code: totpNow(alice.totpSecret!, now()) }, { formAction: '/mfa/totp' });
    const refusal = new URL(locked.url);
    expect(refusal.searchParams.get('error')).toBe('mfa_locked');
    expect(refusal.searchParams.get('error_description')).toMatch(/too many wrong codes; try again in 1 minute/);
    expect((await auditOf('user.mfa')).at(-1)).toMatchObject({ user: 'alice', success: false, fields: { reason: 'mfa_locked' } });

    clock.advance(61_000);
    step = await throughIdp(stack.url, stack.tlsCa, alice);
    page = await totpSubmit(step, totpNow(alice.totpSecret!, now()));
    expect(codeFrom(page)).toBeTruthy();
    expect((await stack.ztshd.auth.storage.mfa.failures('alice')).failures).toBe(0);
  });
});
