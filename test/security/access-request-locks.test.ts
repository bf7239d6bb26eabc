// Locks on an access request (issue 13: dropping an approved request ends
// what it lent). A lock on request A shuts out every certificate carrying A,
// at the kube front door, the cluster list and the access-request API, and
// touches nothing else: not a certificate elevated by request B, not alice's
// own login certificate. The locks API takes only a well-formed target: one
// kind, a request id as auth makes them, of a request that exists.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { ZtshHome } from '@ztsh/cli';
import { issueCertificate } from '@ztsh/auth';
import { identityFromCertificate, type AccessRequestInfo, type AuditEvent, type Identity } from '@ztsh/protocol';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRoles } from '../helpers/access-request-roles.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { loggedInEnv } from '../helpers/profile.ts';
import { rawRequest, type Credentials } from './helpers/raw-client.ts';

let k: KubeEnv;
let alice: Credentials;
let bob: Credentials;
let aliceIdentity: Identity;
let alicePublicKey: Buffer;
let requestA: AccessRequestInfo;
let requestB: AccessRequestInfo;

const json = { 'Content-Type': 'application/json' };
const post = (as: Credentials, path: string, body: unknown) => rawRequest(k.stack, { method: 'POST', path, as, headers: json, body: JSON.stringify(body) });
const get = (as: Credentials, path: string) => rawRequest(k.stack, { path, as });
const audit = (): Promise<AuditEvent[]> => k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 });

beforeAll(async () => {
  k = await startKubeEnv({ roles: requestRoles() });
  await k.addAgent('prod', { env: 'prod' });
  k.kube.addPod('default', 'web-1');
  alice = k.alice;
  const bobEnv = await loggedInEnv(k.stack, DEV_USERS[1]!);
  const files = new ZtshHome(bobEnv.ZTSH_HOME!).readProfile(k.stack.url)!;
  bob = { cert: files.certPem, key: files.keyPem };
  aliceIdentity = identityFromCertificate(new X509Certificate(alice.cert).raw)!;
  alicePublicKey = createPublicKey(alice.key).export({ type: 'spki', format: 'der' });
  const asked = async (reason: string) => {
    const made = await post(alice, '/v1/access-requests', { roles: ['prod-admin'], reason });
    expect(made.status, made.body.toString()).toBe(201);
    return made.json() as AccessRequestInfo;
  };
  requestA = await asked('request A');
  requestB = await asked('request B');
}, 120_000);
afterAll(() => k?.close());

/** alice's key and identity, elevated by these requests (prod-admin each), signed by the stack's user CA. */
function elevated(...ids: string[]): Credentials {
  const now = Date.now();
  const identity: Identity = {
    ...aliceIdentity,
    kubernetesGroups: [...aliceIdentity.kubernetesGroups, 'prod-admins'],
    accessRequests: ids.map((id) => ({ id, roles: ['prod-admin'] })),
  };
  const issued = issueCertificate({ ca: k.stack.ztshd.auth.userCa, publicKey: alicePublicKey, identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
  return { cert: issued.pem, key: alice.key };
}

describe('a lock on request A', () => {
  it('is made by an admin through the locks API', async () => {
    const res = await post(bob, '/v1/locks', { accessRequest: requestA.id, message: 'A is over' });
    expect(res.status, res.body.toString()).toBe(201);
    expect(res.json().target).toEqual({ accessRequest: requestA.id });
  });

  it('refuses a certificate carrying A at the kube front door, with the lock message', async () => {
    const res = await get(elevated(requestA.id), '/k8s/prod/api/v1/namespaces/default/pods');
    expect(res.status).toBe(403);
    expect(res.json().message).toContain(`access locked for access request ${requestA.id}: A is over`);
    // Its own roles do not save it: the certificate is locked whole.
    expect((await get(elevated(requestA.id), '/k8s/sandbox/api/v1/namespaces/default/pods')).status).toBe(403);
  });

  it('refuses a certificate carrying A and B: one locked request is enough', async () => {
    expect((await get(elevated(requestB.id, requestA.id), '/k8s/prod/api/v1/namespaces/default/pods')).status).toBe(403);
  });

  it('does not touch a certificate elevated by request B, nor alice\'s own certificate', async () => {
    const b = await get(elevated(requestB.id), '/k8s/prod/api/v1/namespaces/default/pods');
    expect(b.status, b.body.toString()).toBe(200);
    expect((await get(alice, '/k8s/sandbox/api/v1/namespaces/default/pods')).status).toBe(200);
    expect((await get(elevated(requestB.id), '/v1/clusters')).status).toBe(200);
  });

  it('a look-alike id (case, a prefix, padding) is another request: not locked', async () => {
    for (const id of [requestA.id.toUpperCase(), requestA.id.slice(0, 35), ` ${requestA.id}`, `${requestA.id}x`]) {
      const res = await get(elevated(id), '/k8s/prod/api/v1/namespaces/default/pods');
      expect(res.status, id).toBe(200);
    }
  });

  it('refuses the cluster list to a certificate carrying A, audited', async () => {
    const res = await get(elevated(requestA.id), '/v1/clusters');
    expect(res.status).toBe(403);
    expect(res.json().error.code).toBe('locked');
    const last = (await audit()).filter((e) => e.type === 'api.request' && !e.success).at(-1);
    expect(last).toMatchObject({ user: 'alice', fields: { path: '/v1/clusters', reason: 'locked' } });
  });
});

describe('forged lock targets in the locks API', () => {
  const bodies: [string, unknown][] = [
    ['a path for an id', { accessRequest: '../../locks' }],
    ['a blank id', { accessRequest: ' ' }],
    ['an empty id', { accessRequest: '' }],
    ['a number', { accessRequest: 12 }],
    ['an object', { accessRequest: { id: 'x' } }],
    ['an id with a newline', { accessRequest: `${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}\n` }],
    ['two kinds at once', { accessRequest: '', user: 'alice' }],
    ['a user and a request', { user: 'alice', accessRequest: 'x' }],
    ['the stored shape', { target: { accessRequest: 'x' } }],
    ['an unknown kind', { accessRequestId: 'x' }],
  ];
  for (const [what, body] of bodies) {
    it(`refuses ${what} with 400 and makes no lock`, async () => {
      const before = k.stack.ztshd.auth.deps.locks.list().length;
      const res = await post(bob, '/v1/locks', body);
      expect(res.status, res.body.toString()).toBe(400);
      expect(k.stack.ztshd.auth.deps.locks.list().length).toBe(before);
    });
  }

  it('refuses an upper-case copy of a real id, and a well-formed id of no request', async () => {
    const before = k.stack.ztshd.auth.deps.locks.list().length;
    expect((await post(bob, '/v1/locks', { accessRequest: requestB.id.toUpperCase() })).status).toBe(400);
    const unknown = await post(bob, '/v1/locks', { accessRequest: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(400);
    expect(unknown.json().error.message).toContain('no access request');
    expect(k.stack.ztshd.auth.deps.locks.list().length).toBe(before);
  });

  it('refuses a lock on a request to a non-admin', async () => {
    const res = await post(alice, '/v1/locks', { accessRequest: requestB.id });
    expect(res.status).toBe(403);
  });
});
