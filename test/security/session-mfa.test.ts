// Per-session MFA under attack: POST /v1/session-mfa is a new input surface
// (a body with clusters and a code, a client certificate), and the proxy's
// check is what keeps a stolen login certificate out of production.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueCertificate, loadOrCreateAuthority, RoleSchema } from '@ztsh/auth';
import { codeFrom, throughIdp, totpNow } from '../helpers/http-login.ts';
import { alice, certificateIdentity, PROD_READER_ROLE, startSessionMfaEnv, type SessionMfaEnv } from '../helpers/session-mfa-env.ts';
import type { Credentials } from './helpers/raw-client.ts';

let k: SessionMfaEnv;
beforeAll(async () => {
  k = await startSessionMfaEnv();
}, 300_000);
afterAll(() => k?.close());
beforeEach(async () => {
  // Each case starts with no wrong codes counted against alice.
  await k.stack.ztshd.auth.storage.mfa.setFailures('alice', { failures: 0, lockedUntil: 0 });
});

const pods = (cluster: string) => `/k8s/${cluster}/api/v1/namespaces/default/pods`;
const audit = async (type: string) => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).filter((e) => e.type === type);

/** A session MFA certificate for alice over these clusters, with a fresh code. */
async function bound(clusters: string[], as: Credentials = k.alice): Promise<Credentials & { validUntil: string }> {
  const res = await k.sessionMfa(as, { clusters, totp: { code: k.freshCode() } });
  expect(res.status, res.body).toBe(200);
  return { cert: res.json().certificate, key: as.key, validUntil: res.json().validUntil };
}

/** A code a little off the right one: wrong for this step (and, in practice, for its neighbours). */
function wrongCode(): string {
  const right = totpNow(alice.totpSecret!, k.clock.now().getTime());
  return String((Number(right) + 500_001) % 1_000_000).padStart(6, '0');
}

describe('the proxy', () => {
  it('refuses a certificate bound to prod-a on prod-b, naming the command for prod-b', async () => {
    const a = await bound(['prod-a']);
    expect((await k.kubeGet(a, pods('prod-a'))).status).toBe(200);
    const refused = await k.kubeGet(a, pods('prod-b'));
    expect(refused.status).toBe(403);
    expect(refused.json().message).toContain('ztsh kube mfa --clusters prod-b');
    const last = (await audit('kube.request')).filter((e) => e.fields.cluster === 'prod-b').at(-1);
    expect(last).toMatchObject({ success: false, fields: { reason: 'session_mfa_other_cluster' } });
  });

  it('refuses the certificate once the interval is over: it ends with the interval', async () => {
    const a = await bound(['prod-a']);
    expect((await k.kubeGet(a, pods('prod-a'))).status).toBe(200);
    k.clock.advance(Date.parse(a.validUntil) - k.clock.now().getTime() + 1000);
    const refused = await k.kubeGet(a, pods('prod-a'));
    expect(refused.status).toBe(401);
    expect(refused.json().message).toContain('expired');
  });

  it('holds a check to the interval the roles set now: a shorter one takes effect at once', async () => {
    const a = await bound(['prod-a']);
    const roles = k.stack.ztshd.auth.deps.roles;
    const original = roles.get('prod-reader')!;
    roles.set('prod-reader', RoleSchema.parse({ ...PROD_READER_ROLE, spec: { ...PROD_READER_ROLE.spec, options: { ...PROD_READER_ROLE.spec!.options, mfa_verification_interval: '5m' } } }));
    try {
      expect((await k.kubeGet(a, pods('prod-a'))).status).toBe(200);
      k.clock.advance(5 * 60_000 + 1000);
      // The certificate still has 25 minutes; the check does not.
      const refused = await k.kubeGet(a, pods('prod-a'));
      expect(refused.status).toBe(403);
      expect(refused.json().message).toMatch(/older than 5m: run ztsh kube mfa --clusters prod-a$/);
      expect((await audit('kube.request')).at(-1)).toMatchObject({ success: false, fields: { reason: 'session_mfa_stale' } });
    } finally {
      roles.set('prod-reader', original);
    }
  });

  it('never asks for it on the dev cluster: the login certificate and a session certificate both pass', async () => {
    expect((await k.kubeGet(k.alice, pods('sandbox'))).status).toBe(200);
    const a = await bound(['prod-a']);
    expect((await k.kubeGet(a, pods('sandbox'))).status).toBe(200);
  });

  it('refuses a certificate with a sessionMfa for prod-a that our CA did not sign', async () => {
    const rogue = await loadOrCreateAuthority({ dir: mkdtempSync(join(tmpdir(), 'rogue-ca-')), kind: 'user', clusterName: 'ztsh-dev', clock: k.clock });
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const identity = { ...certificateIdentity(k.alice.cert).identity, sessionMfa: { clusters: ['prod-a'], verifiedAt: k.clock.now().getTime(), method: 'totp' as const } };
    const now = k.clock.now().getTime();
    const forged = issueCertificate({ ca: rogue, publicKey: keys.publicKey.export({ type: 'spki', format: 'der' }), identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + 600_000) });
    const creds = { cert: forged.pem, key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    const refused = await k.kubeGet(creds, pods('prod-a'));
    expect(refused.status).toBe(401);
    // Nor does it buy a real one.
    expect((await k.sessionMfa(creds, { clusters: ['prod-a'], totp: { code: k.freshCode() } })).status).toBe(401);
  });
});

describe('POST /v1/session-mfa', () => {
  it('counts a wrong code towards the back-off login uses, and locks after five', async () => {
    const first = await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code: wrongCode() } });
    expect(first.status).toBe(401);
    expect(first.json().error).toMatchObject({ code: 'mfa_failed' });
    expect(first.json().error.message).toContain('4 tries left');
    expect(first.json().certificate).toBeUndefined();
    expect((await k.stack.ztshd.auth.storage.mfa.failures('alice')).failures).toBe(1);
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, code: 'ZA5100W', fields: { reason: 'mfa_failed', failures: 1 } });
    for (let i = 2; i <= 5; i++) expect((await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code: wrongCode() } })).status).toBe(401);
    // Locked now: even the right code gets nothing, and is not used up.
    const code = k.freshCode();
    const locked = await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } });
    expect(locked.status).toBe(429);
    expect(locked.json().error.code).toBe('mfa_locked');
    await k.stack.ztshd.auth.storage.mfa.setFailures('alice', { failures: 0, lockedUntil: 0 });
    expect((await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } })).status).toBe(200);
  });

  it('refuses a replayed code, and of two requests with one code only one gets a certificate', async () => {
    const code = k.freshCode();
    expect((await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } })).status).toBe(200);
    const replay = await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } });
    expect(replay.status).toBe(401);
    expect(replay.json().error.code).toBe('mfa_code_reused');

    const again = k.freshCode();
    const both = await Promise.all([0, 1].map(() => k.sessionMfa(k.alice, { clusters: ['prod-b'], totp: { code: again } })));
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('refuses the code a login just used', async () => {
    k.clock.advance(30_000);
    const at = k.clock.now().getTime();
    const step = await throughIdp(k.stack.url, k.stack.tlsCa, alice);
    const page = await step.forms.submitForm(step.page, { code: totpNow(alice.totpSecret!, at) }, { formAction: '/mfa/totp' });
    await step.forms.close();
    await step.api.close();
    expect(codeFrom(page)).toBeTruthy();
    const res = await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code: totpNow(alice.totpSecret!, at) } });
    expect(res.status).toBe(401);
    expect(res.json().error.code).toBe('mfa_code_reused');
  });

  it('gives nothing without a code, or for a body that is not exactly the contract, and uses up no code doing so', async () => {
    const code = k.freshCode();
    const bodies: unknown[] = [
      {},
      { clusters: ['prod-a'] },
      { clusters: ['prod-a'], totp: {} },
      { clusters: ['prod-a'], totp: { code: 'abcdef' } },
      { clusters: ['prod-a'], totp: { code: `${code}\n` } },
      { clusters: ['prod-a'], totp: { code: '1'.repeat(9) } },
      { clusters: [], totp: { code } },
      { clusters: 'prod-a', totp: { code } },
      { clusters: Array.from({ length: 65 }, (_, i) => `c${i}`), totp: { code } },
      { clusters: ['../sandbox'], totp: { code } },
      { clusters: ['PROD-A'], totp: { code } },
      { clusters: ['*'], totp: { code } },
      { clusters: ['prod-a%2fx'], totp: { code } },
      { clusters: [''], totp: { code } },
      { clusters: ['prod-a'], totp: { code, method: 'webauthn' } },
      // What only auth may say: when, and how.
      { clusters: ['prod-a'], totp: { code }, verifiedAt: 0 },
      { clusters: ['prod-a'], totp: { code }, sessionMfa: { clusters: ['prod-a'], verifiedAt: 0, method: 'totp' } },
      `{"clusters":["prod-a"],"totp":{"code":"${code}"},"__proto__":{"admin":true}}`,
      `{"clusters":["prod-a"],"totp":{"code":"${code}","constructor":{}}}`,
      [{ clusters: ['prod-a'], totp: { code } }],
      'null',
      '{"clusters":["prod-a"],"totp":{"code":"1',
    ];
    for (const body of bodies) {
      const res = await k.sessionMfa(k.alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).not.toContain('BEGIN CERTIFICATE');
    }
    const huge = await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code }, pad: 'x'.repeat(70_000) });
    // The body parser's limit (64 KiB), answered as every other refused body is.
    expect(huge.status).toBe(400);
    expect(huge.json().error.message).toMatch(/too large/i);
    const form = await k.sessionMfa(k.alice, `clusters=prod-a&totp[code]=${code}`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    expect((await k.stack.ztshd.auth.storage.mfa.failures('alice')).failures).toBe(0);
    // None of them used the code.
    expect((await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } })).status).toBe(200);
  });

  it('asks the certificate of a login: none, or a session MFA one, gets nothing (and the code stays unused)', async () => {
    const noCert = await k.sessionMfa(undefined, { clusters: ['prod-a'], totp: { code: k.freshCode() } });
    expect(noCert.status).toBe(401);
    expect((await audit('api.request')).at(-1)).toMatchObject({ success: false, fields: { path: '/v1/session-mfa', reason: 'no_certificate' } });

    const session = await bound(['prod-a']);
    const code = k.freshCode();
    const chained = await k.sessionMfa(session, { clusters: ['prod-a', 'prod-b'], totp: { code } });
    expect(chained.status).toBe(403);
    expect(chained.json().error.code).toBe('access_denied');
    expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, fields: { reason: 'session_mfa_certificate' } });
    expect((await k.sessionMfa(k.alice, { clusters: ['prod-a', 'prod-b'], totp: { code } })).status).toBe(200);
  });

  it('never lets the certificate outlive the login certificate it was asked with', async () => {
    k.clock.advance(30_000);
    const step = await throughIdp(k.stack.url, k.stack.tlsCa, alice, { ttl: '10m' });
    const page = await step.forms.submitForm(step.page, { code: totpNow(alice.totpSecret!, k.clock.now().getTime()) }, { formAction: '/mfa/totp' });
    const exchanged = await step.api.post('/v1/login/exchange', { code: codeFrom(page), verifier: step.keys.verifier });
    await step.forms.close();
    await step.api.close();
    expect(exchanged.status, JSON.stringify(exchanged.json)).toBe(200);
    const short = { cert: exchanged.json.certificate as string, key: step.keys.privateKey };
    const session = await bound(['prod-a'], short);
    // X.509 keeps whole seconds: the login certificate ends at the second its validUntil falls in.
    const loginEnd = new Date(certificateIdentity(short.cert).cert.validTo).getTime();
    expect(loginEnd).toBe(Math.floor(Date.parse(exchanged.json.validUntil) / 1000) * 1000);
    expect(Date.parse(session.validUntil)).toBe(loginEnd);
    expect(new Date(certificateIdentity(session.cert).cert.validTo).getTime()).toBe(loginEnd);
    // Past the login certificate's end, that certificate buys nothing more.
    k.clock.advance(Date.parse(exchanged.json.validUntil) - k.clock.now().getTime() + 1000);
    const late = await k.sessionMfa(short, { clusters: ['prod-a'], totp: { code: k.freshCode() } });
    expect(late.status).toBe(401);
    expect((await audit('api.request')).at(-1)).toMatchObject({ user: 'alice', fields: { reason: 'expired', certificateExpired: true } });
  });

  it('refuses a locked user or role before looking at the code', async () => {
    for (const target of [{ user: 'alice' }, { role: 'prod-reader' }]) {
      const lock = await k.stack.ztshd.auth.deps.locks.add({ target, message: 'incident 42', createdBy: 'bob' });
      const code = k.freshCode();
      try {
        const res = await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } });
        expect(res.status).toBe(403);
        expect(res.json().error.code).toBe('locked');
        expect((await audit('session_mfa.verify')).at(-1)).toMatchObject({ success: false, fields: { reason: 'locked', lockId: lock.id } });
      } finally {
        await k.stack.ztshd.auth.deps.locks.remove(lock.id, 'bob');
      }
      expect((await k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } })).status).toBe(200);
    }
  });
});
