// Session MFA with a security key, end to end: erin's only second factor is
// a security key (Chromium's virtual authenticator, enrolled at her first
// login). Her login certificate starts a check, the page opens in the same
// browser, one touch sends the browser to the loopback redirect with a code,
// and the redeem gives a certificate bound to the prod clusters that the
// proxy accepts there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { approveWithKey, type Callback, type ErinWithKey, sessionMfaMethods, startCheck, startErinWithKey } from './helpers/session-mfa-browser.ts';
import { certificateIdentity, INTERVAL_MS, samePublicKey, type SessionMfaEnv } from './helpers/session-mfa-env.ts';
import type { Credentials } from './security/helpers/raw-client.ts';

let env: ErinWithKey;
let k: SessionMfaEnv;
let page: Page;
let callback: Callback;
let erin: Credentials;

beforeAll(async () => {
  env = await startErinWithKey();
  ({ k, page, callback, erin } = env);
}, 300_000);
afterAll(() => env?.close());

const events = async (type: string) => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).filter((e) => e.type === type);

describe('a session MFA check with a security key', () => {
  it('GET /v1/session-mfa lists the second factors each caller can use', async () => {
    expect((await k.stack.ztshd.auth.storage.mfa.list('erin')).map((d) => d.kind)).toEqual(['webauthn']);
    const forErin = await sessionMfaMethods(k, erin);
    expect(forErin.status, forErin.body).toBe(200);
    expect(forErin.json()).toEqual({ methods: ['webauthn'] });
    expect((await sessionMfaMethods(k, k.alice)).json()).toEqual({ methods: ['totp'] });
    expect((await sessionMfaMethods(k, undefined)).status).toBe(401);
  });

  it('opens in the browser, takes one touch, and its code buys a certificate bound to the clusters', async () => {
    const check = await startCheck(k, erin, ['prod-b', 'prod-a'], callback.redirect);
    expect(check.res.status, check.res.body).toBe(201);
    expect(check.url).toBe(new URL(`/login/${check.id}`, k.stack.url).toString());
    expect(Date.parse(check.res.json().expiresAt) - k.clock.now().getTime()).toBeLessThanOrEqual(5 * 60_000);

    await page.goto(check.url);
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    // The page says what the touch confirms, and offers no enrollment.
    await expect(page.locator('#session-check').textContent()).resolves.toMatch(/Confirm a session for clusters prod-a, prod-b\s+— asked by ztsh on laptop-7 from /);
    expect(await page.locator('#webauthn-register, #totp-enroll, #totp-secret').count()).toBe(0);
    const code = await approveWithKey(page, check.url, callback);

    const before = k.clock.now().getTime();
    const res = await k.sessionMfa(erin, { clusters: ['prod-a', 'prod-b'], browser: { id: check.id, code, verifier: check.verifier } });
    expect(res.status, res.body).toBe(200);
    const body = res.json();
    expect(body.clusters).toEqual(['prod-a', 'prod-b']);
    expect(samePublicKey(body.certificate, erin.cert)).toBe(true);
    const { identity, cert } = certificateIdentity(body.certificate);
    const { sessionMfa, ...rest } = identity;
    expect(rest).toEqual(certificateIdentity(erin.cert).identity);
    expect(sessionMfa).toMatchObject({ clusters: ['prod-a', 'prod-b'], method: 'webauthn' });
    expect(sessionMfa!.verifiedAt).toBeGreaterThanOrEqual(before);
    const notAfter = new Date(cert.validTo).getTime();
    expect(notAfter).toBe(Date.parse(body.validUntil));
    expect(notAfter).toBeLessThanOrEqual(sessionMfa!.verifiedAt + INTERVAL_MS);
    expect(notAfter).toBeGreaterThan(sessionMfa!.verifiedAt + INTERVAL_MS - 1000);

    // The proxy takes it for the bound clusters; the login certificate alone is refused there.
    const session = { cert: body.certificate, key: erin.key };
    const pods = await k.kubeGet(session, '/k8s/prod-a/api/v1/namespaces/default/pods');
    expect(pods.status, pods.body).toBe(200);
    expect(pods.body).toContain('web-1');
    expect((await k.kubeGet(erin, '/k8s/prod-a/api/v1/namespaces/default/pods')).status).toBe(403);

    // Audited as a session MFA check with the key that answered, never as a login.
    const device = (await k.stack.ztshd.auth.storage.mfa.list('erin'))[0]!;
    const verified = (await events('session_mfa.verify')).filter((e) => e.success && e.user === 'erin');
    expect(verified).toHaveLength(1);
    expect(verified[0]).toMatchObject({ fields: { clusters: ['prod-a', 'prod-b'], method: 'webauthn', device: device.id, check: check.id, intervalMs: INTERVAL_MS } });
    expect((await events('user.login')).filter((e) => e.loginId === check.id)).toEqual([]);
    expect((await events('user.mfa')).filter((e) => e.loginId === check.id && e.success)).toHaveLength(1);
  });
});
