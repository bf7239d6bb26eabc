// Abuse of the access request API and the certificate re-issue: reviewing
// one's own request or without the right, reading or using someone else's,
// forged and oversized bodies and ids, roles and durations past what the
// roles allow, re-issuing with a request that is not approved (or not one's
// own), with a session MFA certificate, with a certificate of another CA,
// while locked; a web session's changes from another page.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, ManualClock } from '@ztsh/auth';
import { identityFromCertificate, type AccessRequestInfo, type AuditEvent, type Identity } from '@ztsh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_REQUEST_ROLES } from '../helpers/access-request-roles.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

const HOUR = 3_600_000;
const clock = new ManualClock(Date.now());
let stack: TestStack;
let alice: Credentials;
let bob: Credentials;
let carol: Credentials;

beforeAll(async () => {
  stack = await startTestStack({ clock, roles: ACCESS_REQUEST_ROLES });
  [alice, bob, carol] = await Promise.all([credentialsOf(target(), 'alice'), credentialsOf(target(), 'bob'), credentialsOf(target(), 'carol')]);
}, 120_000);
afterAll(() => stack?.close());

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

async function call(as: Credentials | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await rawRequest(target(), {
    method,
    path,
    as,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  let json: any;
  try {
    json = res.body ? res.json() : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

const create = (as: Credentials, body: unknown) => call(as, 'POST', '/v1/access-requests', body);
const review = (as: Credentials, id: string, decision: 'approve' | 'deny') => call(as, 'POST', `/v1/access-requests/${id}/reviews`, { decision, reason: 'reviewed' });
const reissue = (as: Credentials | undefined, ids: string[]) => call(as, 'POST', '/v1/certificates/reissue', { accessRequests: ids });
const audit = async (type: string): Promise<AuditEvent[]> => (await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === type);
const identityOf = (pem: string): Identity => identityFromCertificate(new Uint8Array(new X509Certificate(pem).raw))!;

async function approvedFor(as: Credentials, body: Record<string, unknown> = {}): Promise<AccessRequestInfo> {
  const made = await create(as, { roles: ['prod-admin'], reason: 'INC-9', duration: '1h', ...body });
  expect(made.status).toBe(201);
  const approved = await review(bob, made.json.id, 'approve');
  expect(approved.json.state).toBe('approved');
  return approved.json;
}

describe('reviewing', () => {
  it('carol approving her own request is refused and audited; bob may', async () => {
    const made = await create(carol, { roles: ['prod-admin'], reason: 'INC-7' });
    expect(made.status).toBe(201);
    expect(made.json.reviewable).toBe(false);
    const own = await review(carol, made.json.id, 'approve');
    expect(own.status).toBe(403);
    expect(own.json.error.message).toMatch(/nobody reviews their own request/);
    expect((await audit('access_request.review')).at(-1)).toMatchObject({ success: false, user: 'carol', fields: { accessRequest: made.json.id, reason: 'own_request' } });
    expect((await call(carol, 'GET', `/v1/access-requests/${made.json.id}`)).json.state).toBe('pending');
    expect((await review(bob, made.json.id, 'approve')).json.state).toBe('approved');
  });

  it('alice (no review_requests) cannot see or review carol\'s request: 404 as for an unknown id, audited', async () => {
    const made = await create(carol, { roles: ['prod-admin'], reason: 'INC-8' });
    expect((await call(alice, 'GET', `/v1/access-requests/${made.json.id}`)).status).toBe(404);
    expect((await call(alice, 'GET', '/v1/access-requests')).json.requests.map((r: AccessRequestInfo) => r.id)).not.toContain(made.json.id);
    const res = await review(alice, made.json.id, 'approve');
    expect(res.status).toBe(404);
    expect((await audit('access_request.review')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { reason: 'not_found' } });
    expect((await call(alice, 'DELETE', `/v1/access-requests/${made.json.id}`)).status).toBe(404);
    expect((await call(carol, 'GET', `/v1/access-requests/${made.json.id}`)).json).toMatchObject({ state: 'pending', reviews: [] });
  });

  it('looking up a request one may not see, or none, answers the same 404 and is audited as access_request.view', async () => {
    const made = await create(carol, { roles: ['prod-admin'], reason: 'INC-11' });
    const hidden = await call(alice, 'GET', `/v1/access-requests/${made.json.id}`);
    const unknownId = '00000000-0000-4000-8000-000000000000';
    const unknown = await call(alice, 'GET', `/v1/access-requests/${unknownId}`);
    expect(hidden.status).toBe(404);
    expect(unknown.status).toBe(404);
    // Nothing in the answer tells the two apart: only the id differs.
    expect(hidden.json.error.message.replace(made.json.id, 'ID')).toBe(unknown.json.error.message.replace(unknownId, 'ID'));
    expect(hidden.json.error.hint).toBe(unknown.json.error.hint);
    const views = await audit('access_request.view');
    expect(views.at(-2)).toMatchObject({ success: false, code: 'ZA5005W', user: 'alice', fields: { accessRequest: made.json.id, reason: 'not_visible', roles: ['developer'] } });
    expect(views.at(-1)).toMatchObject({ success: false, user: 'alice', fields: { accessRequest: unknownId, reason: 'not_found' } });
    // Seeing one's own, or one a reviewer may decide, is not an event.
    expect((await call(carol, 'GET', `/v1/access-requests/${made.json.id}`)).status).toBe(200);
    expect((await call(bob, 'GET', `/v1/access-requests/${made.json.id}`)).status).toBe(200);
    expect((await audit('access_request.view')).length).toBe(views.length);
  });

  it('alice reviewing her own request is refused', async () => {
    const made = await create(alice, { roles: ['prod-admin'], reason: 'INC-10' });
    expect((await review(alice, made.json.id, 'approve')).status).toBe(403);
  });
});

describe('asking', () => {
  it('roles the requester may not ask for, unknown roles and held roles are refused and audited', async () => {
    const notAllowed = await create(alice, { roles: ['devops-admin'], reason: 'want it all' });
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.json.error.message).toMatch(/may not request role "devops-admin"/);
    expect(notAllowed.json.error.hint).toMatch(/prod-admin/);
    expect((await audit('access_request.create')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { asked: { roles: ['devops-admin'] } } });
    expect((await create(bob, { roles: ['prod-admin'], reason: 'x' })).status).toBe(403); // devops-admin may not request
    expect((await create(alice, { roles: ['developer'], reason: 'x' })).status).toBe(400); // held already
    expect((await create(alice, { roles: ['no-such-role'], reason: 'x' })).status).toBe(400);
  });

  it('durations over the role\'s max_duration, over 7 days, zero or malformed are refused', async () => {
    for (const duration of ['9h', '8d', '0m', '1w', '2h30m', '-1h', '9999999d', '1e3h']) {
      const res = await create(alice, { roles: ['prod-admin'], reason: 'x', duration });
      expect(res.status, duration).toBe(400);
    }
  });

  it('forged bodies: unknown keys, wrong types, no reason, too many roles or pods, a pod that is not a pod name, a client-chosen state or id', async () => {
    const bodies: unknown[] = [
      { roles: ['prod-admin'], reason: 'x', state: 'approved' },
      { roles: ['prod-admin'], reason: 'x', id: 'mine' },
      { roles: ['prod-admin'], reason: 'x', user: 'bob' },
      { roles: 'prod-admin', reason: 'x' },
      { roles: ['prod-admin'] },
      { roles: ['prod-admin'], reason: '   ' },
      { roles: ['prod-admin'], reason: 'x'.repeat(1025) },
      { roles: Array.from({ length: 17 }, (_, i) => `r${i}`), reason: 'x' },
      { resources: Array.from({ length: 33 }, (_, i) => ({ cluster: 'prod', kind: 'pods', namespace: 'default', name: `web-${i}` })), reason: 'x' },
      { resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: '../secrets' }], reason: 'x' },
      { resources: [{ cluster: 'prod', kind: 'secrets', namespace: 'default', name: 'db' }], reason: 'x' },
      { resources: [{ cluster: 'PROD', kind: 'pods', namespace: 'default', name: 'web-1' }], reason: 'x' },
      { reason: 'nothing asked' },
      [],
      'null',
      '{"roles":["prod-admin"],"reason":"x","__proto__":{"state":"approved"}}',
    ];
    for (const body of bodies) {
      const res = await create(alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const before = (await stack.ztshd.auth.storage.accessRequests.list({ user: 'alice' })).length;
    const big = await call(alice, 'POST', '/v1/access-requests', JSON.stringify({ roles: ['prod-admin'], reason: 'x', pad: 'y'.repeat(70_000) }));
    // The body parser's 413 reaches API clients as a 400 like any bad body.
    expect(big.status).toBe(400);
    expect(big.json.error.message).toMatch(/too large/i);
    expect((await stack.ztshd.auth.storage.accessRequests.list({ user: 'alice' })).length).toBe(before);
  });

  it('reasons with control characters (terminal escapes, newlines, direction overrides) are refused, asking and reviewing', async () => {
    for (const reason of ['ok\u001b[2J\u001b[Happroved by bob', 'INC-1\nbob: approved', 'tab\there', 'bell\u0007', 'c1\u009b31m', 'rtl \u202e evil', 'line\u2028sep']) {
      const res = await create(alice, { roles: ['prod-admin'], reason });
      expect(res.status, JSON.stringify(reason)).toBe(400);
      expect(res.json.error.message).toMatch(/control characters/);
    }
    const made = await create(alice, { roles: ['prod-admin'], reason: 'INC-11 ünïcode and "quotes" are fine' });
    expect(made.status).toBe(201);
    const res = await call(bob, 'POST', `/v1/access-requests/${made.json.id}/reviews`, { decision: 'approve', reason: 'ok\u001b]0;pwned\u0007' });
    expect(res.status).toBe(400);
    expect((await call(bob, 'GET', `/v1/access-requests/${made.json.id}`)).json).toMatchObject({ state: 'pending', reviews: [] });
  });

  it('a pod outside the role\'s request.kubernetes_resources or a role outside search_as_roles is refused', async () => {
    const res = await create(alice, { roles: ['devops-admin'], resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }], reason: 'x' });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/cannot be requested for single pods/);
    expect((await create(carol, { resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }], reason: 'x' })).status).toBe(403);
  });

  it('ids and queries that are not what they claim: 404 or 400, never a lookup', async () => {
    for (const path of ['/v1/access-requests/nope', '/v1/access-requests/..%2F..%2Fv1%2Flocks', "/v1/access-requests/'%20OR%201=1--", `/v1/access-requests/${'a'.repeat(5000)}`]) {
      expect((await call(alice, 'GET', path)).status, path).toBe(404);
    }
    expect((await call(alice, 'GET', '/v1/access-requests?state=pending&state=approved')).status).toBe(400);
    expect((await call(alice, 'GET', '/v1/access-requests?state=everything')).status).toBe(400);
    expect((await call(alice, 'GET', '/v1/access-requests?user=bob')).status).toBe(200); // unknown parameters are not filters
    expect((await call(alice, 'GET', '/v1/access-requests?user=bob')).json.requests.every((r: AccessRequestInfo) => r.user === 'alice')).toBe(true);
  });

  it('without credentials nothing is answered', async () => {
    expect((await call(undefined, 'GET', '/v1/access-requests')).status).toBe(401);
    expect((await call(undefined, 'POST', '/v1/access-requests', { roles: ['prod-admin'], reason: 'x' })).status).toBe(401);
    expect((await reissue(undefined, ['00000000-0000-4000-8000-000000000000'])).status).toBe(401);
  });

  it('a web session changes requests only from the page itself (Origin or Sec-Fetch-Site), and never re-issues', async () => {
    const token = randomBytes(32).toString('base64url');
    const now = clock.now().getTime();
    await stack.ztshd.auth.storage.webSessions.insert({
      hash: createHash('sha256').update(token).digest('base64url'),
      user: 'alice',
      roles: ['developer'],
      loginId: 'web-login',
      clientIp: '127.0.0.1',
      createdAt: now,
      expiresAt: now + HOUR,
    });
    const cookie = { Cookie: `__Host-ztsh_web=${token}` };
    const body = { roles: ['prod-admin'], reason: 'from the page' };
    expect((await call(undefined, 'GET', '/v1/access-requests', undefined, cookie)).status).toBe(200);
    expect((await call(undefined, 'POST', '/v1/access-requests', body, cookie)).status).toBe(403);
    expect((await call(undefined, 'POST', '/v1/access-requests', body, { ...cookie, Origin: 'https://evil.example' })).status).toBe(403);
    expect((await call(undefined, 'POST', '/v1/access-requests', body, { ...cookie, 'Sec-Fetch-Site': 'cross-site', Origin: stack.url.origin })).status).toBe(401);
    expect((await call(undefined, 'POST', '/v1/access-requests', body, { ...cookie, Origin: stack.url.origin })).status).toBe(201);
    expect((await call(undefined, 'POST', '/v1/certificates/reissue', { accessRequests: ['00000000-0000-4000-8000-000000000000'] }, { ...cookie, Origin: stack.url.origin })).status).toBe(401);
  });
});

describe('re-issuing', () => {
  it('with someone else\'s approved request: 404, audited; the owner\'s own works', async () => {
    const carols = await approvedFor(carol);
    const res = await reissue(alice, [carols.id]);
    expect(res.status).toBe(404);
    expect((await audit('access_request.use')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { reason: 'not_found', accessRequest: carols.id } });
    expect((await reissue(carol, [carols.id])).status).toBe(200);
  });

  it('with a pending, denied, dropped or unknown request: refused, and one bad id spoils the lot', async () => {
    const good = await approvedFor(alice);
    const pending = (await create(alice, { roles: ['prod-admin'], reason: 'p' })).json.id;
    const denied = (await create(alice, { roles: ['prod-admin'], reason: 'd' })).json.id;
    await review(bob, denied, 'deny');
    const dropped = (await approvedFor(alice)).id;
    await call(alice, 'DELETE', `/v1/access-requests/${dropped}`);
    for (const bad of [pending, denied, dropped]) {
      const res = await reissue(alice, [good.id, bad]);
      expect(res.status, bad).toBe(403);
    }
    expect((await reissue(alice, [good.id, '00000000-0000-4000-8000-000000000000'])).status).toBe(404);
    for (const ids of [[], Array.from({ length: 9 }, () => good.id), ['x'.repeat(65)]]) {
      expect((await reissue(alice, ids)).status).toBe(400);
    }
  });

  it('with a session MFA certificate: refused (the login certificate re-issues)', async () => {
    const good = await approvedFor(alice);
    const identity = { ...identityOf(alice.cert), sessionMfa: { clusters: ['prod'], verifiedAt: clock.now().getTime(), method: 'totp' as const } };
    const publicKey = checkPublicKey(new X509Certificate(alice.cert).publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const now = clock.now().getTime();
    const issued = issueCertificate({ ca: stack.ztshd.auth.userCa, publicKey, identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + HOUR) });
    const res = await reissue({ cert: issued.pem, key: alice.key }, [good.id]);
    expect(res.status).toBe(403);
    expect(res.json.error.hint).toMatch(/login certificate/);
    expect((await audit('access_request.use')).at(-1)).toMatchObject({ success: false, fields: { reason: 'session_mfa_certificate' } });
  });

  it('with an elevated certificate: the requests named now replace the ones it carried, and it never ends later', async () => {
    const first = await approvedFor(alice, { duration: '30m' });
    const elevated = await reissue(alice, [first.id]);
    expect(elevated.status).toBe(200);
    const second = await approvedFor(alice, { duration: '2h' });
    const again = await reissue({ cert: elevated.json.certificate, key: alice.key }, [second.id]);
    expect(again.status).toBe(200);
    expect(identityOf(again.json.certificate).accessRequests).toEqual([{ id: second.id, roles: ['prod-admin'] }]);
    expect(Date.parse(again.json.validUntil)).toBe(Date.parse(elevated.json.validUntil));
    expect(identityOf(again.json.certificate).roles).toEqual(['developer']);
  });

  it('with a certificate of another CA claiming the request: 401, nothing issued', async () => {
    const good = await approvedFor(alice);
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-rogue-ca-'));
    try {
      const rogue = await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'rogue', clock });
      const identity = { ...identityOf(alice.cert), accessRequests: [{ id: good.id, roles: ['prod-admin', 'devops-admin'] }] };
      const publicKey = checkPublicKey(new X509Certificate(alice.cert).publicKey.export({ type: 'spki', format: 'pem' }) as string);
      const now = clock.now().getTime();
      const forged = issueCertificate({ ca: rogue, publicKey, identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + HOUR) });
      const res = await reissue({ cert: forged.pem, key: alice.key }, [good.id]);
      expect(res.status).toBe(401);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('while the requested role is locked: refused; once unlocked, it works', async () => {
    const good = await approvedFor(alice);
    const lock = await stack.ztshd.auth.deps.locks.add({ target: { role: 'prod-admin' }, message: 'prod freeze', createdBy: 'bob' });
    try {
      const res = await reissue(alice, [good.id]);
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe('locked');
      expect((await audit('access_request.use')).at(-1)).toMatchObject({ success: false, fields: { reason: 'locked' } });
    } finally {
      await stack.ztshd.auth.deps.locks.remove(lock.id, 'bob');
    }
    expect((await reissue(alice, [good.id])).status).toBe(200);
  });

  it('the access-request API refuses an elevated certificate whose requested role, or request, is locked, as the proxy does', async () => {
    const good = await approvedFor(alice);
    const elevated = await reissue(alice, [good.id]);
    expect(elevated.status).toBe(200);
    const as = { cert: elevated.json.certificate, key: alice.key };
    for (const target of [{ role: 'prod-admin' }, { accessRequest: good.id }]) {
      const lock = await stack.ztshd.auth.deps.locks.add({ target, message: 'prod freeze', createdBy: 'bob' });
      try {
        for (const [method, path, body] of [
          ['GET', '/v1/access-requests', undefined],
          ['GET', `/v1/access-requests/${good.id}`, undefined],
          ['POST', '/v1/access-requests', { roles: ['prod-admin'], reason: 'again' }],
          ['DELETE', `/v1/access-requests/${good.id}`, undefined],
        ] as const) {
          const res = await call(as, method, path, body);
          expect(res.status, `${method} ${path} with a lock on ${JSON.stringify(target)}`).toBe(403);
          expect(res.json.error.code).toBe('locked');
          expect((await audit('api.request')).at(-1)).toMatchObject({ success: false, user: 'alice', fields: { reason: 'locked', lockId: lock.id, path } });
        }
        // alice's own certificate carries neither: the lock is not on her.
        expect((await call(alice, 'GET', '/v1/access-requests')).status).toBe(200);
      } finally {
        await stack.ztshd.auth.deps.locks.remove(lock.id, 'bob');
      }
    }
    expect((await call(as, 'GET', `/v1/access-requests/${good.id}`)).json.state).toBe('approved');
  });

  it('past the request\'s end (the stack\'s clock): expired, refused', async () => {
    const good = await approvedFor(alice, { duration: '30m' });
    clock.advance(30 * 60_000);
    const res = await reissue(alice, [good.id]);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/is expired/);
  });
});
