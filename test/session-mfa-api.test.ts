// POST /v1/session-mfa against a real stack: alice's TOTP code, shown with
// her login certificate, gives a short certificate for the same key bound to
// the prod clusters she names; with it (and only with it) requests to those
// clusters pass the proxy, and GET /v1/clusters says which clusters need it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '@ztsh/server';
import { httpLogin } from './helpers/http-login.ts';
import { certificateIdentity, INTERVAL_MS, samePublicKey, startSessionMfaEnv, type SessionMfaEnv } from './helpers/session-mfa-env.ts';

let k: SessionMfaEnv;
beforeAll(async () => {
  k = await startSessionMfaEnv();
}, 300_000);
afterAll(() => k?.close());

const PODS = '/k8s/%s/api/v1/namespaces/default/pods';
const pods = (cluster: string) => PODS.replace('%s', cluster);
const events = async (type: string) => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).filter((e) => e.type === type);

describe('a TOTP code gives a certificate bound to the named clusters', () => {
  let session: { cert: string; key: string; validUntil: string; verifiedBefore: number; verifiedAfter: number };

  it('for the same key as the login certificate, the login identity plus sessionMfa, for the roles\' interval', async () => {
    const code = k.freshCode();
    const before = k.clock.now().getTime();
    const res = await k.sessionMfa(k.alice, { clusters: ['prod-b', 'prod-a', 'prod-a'], totp: { code } });
    const after = k.clock.now().getTime();
    expect(res.status, res.body).toBe(200);
    const body = res.json();
    expect(body.clusters).toEqual(['prod-a', 'prod-b']);
    expect(Date.parse(body.issuedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.issuedAt)).toBeLessThanOrEqual(after);

    expect(samePublicKey(body.certificate, k.alice.cert)).toBe(true);
    const { identity, cert } = certificateIdentity(body.certificate);
    const login = certificateIdentity(k.alice.cert).identity;
    const { sessionMfa, ...rest } = identity;
    expect(rest).toEqual(login);
    expect(sessionMfa).toEqual({ clusters: ['prod-a', 'prod-b'], verifiedAt: Date.parse(body.issuedAt), method: 'totp' });
    // Valid for the interval (X.509 keeps whole seconds), and the answer says so.
    const notAfter = new Date(cert.validTo).getTime();
    expect(notAfter).toBe(Date.parse(body.validUntil));
    expect(notAfter).toBeLessThanOrEqual(sessionMfa!.verifiedAt + INTERVAL_MS);
    expect(notAfter).toBeGreaterThan(sessionMfa!.verifiedAt + INTERVAL_MS - 1000);
    session = { cert: body.certificate, key: k.alice.key, validUntil: body.validUntil, verifiedBefore: before, verifiedAfter: after };

    const verified = (await events('session_mfa.verify')).filter((e) => e.success);
    expect(verified).toHaveLength(1);
    // The same serial, however many leading zero digits each side writes.
    const bare = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
    expect(bare(String(verified[0]!.fields.serial))).toBe(bare(cert.serialNumber));
    expect(verified[0]).toMatchObject({
      user: 'alice',
      code: 'ZA5100I',
      loginId: login.loginId,
      fields: { clusters: ['prod-a', 'prod-b'], method: 'totp', intervalMs: INTERVAL_MS, serial: expect.any(String), notAfter: body.validUntil },
    });
  });

  it('with it, both prod clusters answer; the login certificate is refused there with the one command to run', async () => {
    for (const cluster of ['prod-a', 'prod-b']) {
      const ok = await k.kubeGet(session, pods(cluster));
      expect(ok.status, ok.body).toBe(200);
      expect(ok.body).toContain('web-1');
    }
    const refused = await k.kubeGet(k.alice, pods('prod-a'));
    expect(refused.status).toBe(403);
    const status = refused.json();
    expect(status).toMatchObject({ kind: 'Status', code: 403 });
    expect(status.message).toContain('ztsh kube mfa --clusters prod-a');
    const audited = (await events('kube.request')).filter((e) => !e.success && e.fields.cluster === 'prod-a');
    expect(audited.at(-1)).toMatchObject({ user: 'alice', fields: { status: 403, reason: 'session_mfa_missing' } });
  });

  it('each kube.request let through on a cluster that asked for the check names it (fields.sessionMfa); others do not', async () => {
    const before = (await events('kube.request')).length;
    expect((await k.kubeGet(session, pods('prod-b'))).status).toBe(200);
    expect((await k.kubeGet(session, pods('sandbox'))).status).toBe(200);
    const [onProd, onSandbox] = (await events('kube.request')).slice(before);
    const { identity } = certificateIdentity(session.cert);
    expect(onProd).toMatchObject({ success: true, fields: { cluster: 'prod-b', sessionMfa: { method: 'totp', verifiedAt: new Date(identity.sessionMfa!.verifiedAt).toISOString(), clusters: ['prod-a', 'prod-b'] } } });
    expect(onSandbox!.fields.cluster).toBe('sandbox');
    expect(onSandbox!.fields).not.toHaveProperty('sessionMfa');
  });

  it('GET /v1/clusters marks the clusters that need it for this user, and no others', async () => {
    const res = await k.kubeGet(k.alice, '/v1/clusters');
    expect(res.status, res.body).toBe(200);
    const byName = Object.fromEntries((res.json().clusters as { name: string; sessionMfa?: boolean }[]).map((c) => [c.name, c.sessionMfa]));
    expect(byName).toEqual({ sandbox: undefined, 'prod-a': true, 'prod-b': true });
  });

  it('a user whose roles do not require it reaches prod with the login certificate (bob, devops-admin)', async () => {
    const bob = DEV_USERS[1]!;
    const login = await httpLogin(k.stack.url, k.stack.tlsCa, bob, k.clock.now().getTime());
    const creds = { cert: login.json.certificate as string, key: login.keys.privateKey };
    const res = await k.kubeGet(creds, pods('prod-a'));
    expect(res.status, res.body).toBe(200);
    const clusters = (await k.kubeGet(creds, '/v1/clusters')).json().clusters as { sessionMfa?: boolean }[];
    expect(clusters.some((c) => c.sessionMfa)).toBe(false);
  });
});

describe('with the proxy run apart from auth', () => {
  let split: SessionMfaEnv;
  beforeAll(async () => {
    split = await startSessionMfaEnv({ split: true });
  }, 300_000);
  afterAll(() => split?.close());

  it('auth issues for the key of the certificate the proxy forwarded, and the proxy enforces the check with the roles auth sent it', async () => {
    const res = await split.sessionMfa(split.alice, { clusters: ['prod-a'], totp: { code: split.nextStepCode() } });
    expect(res.status, res.body).toBe(200);
    expect(samePublicKey(res.json().certificate, split.alice.cert)).toBe(true);
    const session = { cert: res.json().certificate as string, key: split.alice.key };
    const ok = await split.kubeGet(session, pods('prod-a'));
    expect(ok.status, ok.body).toBe(200);
    expect((await split.kubeGet(session, pods('prod-b'))).status).toBe(403);
    const refused = await split.kubeGet(split.alice, pods('prod-a'));
    expect(refused.status).toBe(403);
    expect(refused.json().message).toContain('ztsh kube mfa --clusters prod-a');
    const clusters = (await split.kubeGet(split.alice, '/v1/clusters')).json().clusters as { name: string; sessionMfa?: boolean }[];
    expect(clusters.filter((c) => c.sessionMfa).map((c) => c.name).sort()).toEqual(['prod-a', 'prod-b']);
  });
});
