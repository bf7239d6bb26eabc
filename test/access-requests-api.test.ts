// Access requests over HTTP against a real stack (SQLite, the dev IdP, the
// stack's ManualClock): alice asks for prod-admin, bob approves, alice's
// certificate is re-issued with it for the same key and ends with the
// access; a denied request gives nothing; time ends requests, audited once.
import { X509Certificate } from 'node:crypto';
import { ManualClock } from '@ztsh/auth';
import { identityFromCertificate, type AccessRequestInfo, type AuditEvent } from '@ztsh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_REQUEST_ROLES } from './helpers/access-request-roles.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './security/helpers/raw-client.ts';

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

async function call(as: Credentials, method: string, path: string, body?: unknown) {
  const res = await rawRequest(target(), {
    method,
    path,
    as,
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, json: res.body ? res.json() : undefined };
}

const create = (as: Credentials, body: unknown) => call(as, 'POST', '/v1/access-requests', body);
const review = (as: Credentials, id: string, decision: 'approve' | 'deny', reason = 'looked at it') => call(as, 'POST', `/v1/access-requests/${id}/reviews`, { decision, reason });
const reissue = (as: Credentials, ids: string[]) => call(as, 'POST', '/v1/certificates/reissue', { accessRequests: ids });
const auditOf = async (type: string, id: string): Promise<AuditEvent[]> =>
  (await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === type && e.fields.accessRequest === id);

describe('an access request from ask to end', () => {
  let request: AccessRequestInfo;

  it('alice asks for prod-admin for 1h with a reason: pending, bob suggested, audited', async () => {
    const res = await create(alice, { roles: ['prod-admin'], reason: 'INC-42: payments stuck', duration: '1h' });
    expect(res.status).toBe(201);
    request = res.json;
    expect(request).toMatchObject({
      user: 'alice',
      roles: ['prod-admin'],
      resources: [],
      state: 'pending',
      durationMs: HOUR,
      accessUntil: null,
      thresholds: { approve: 1, deny: 1 },
      suggestedReviewers: ['bob'],
      reviews: [],
      reviewable: false,
    });
    expect(Date.parse(request.pendingUntil) - Date.parse(request.createdAt)).toBe(24 * HOUR);
    expect(await auditOf('access_request.create', request.id)).toEqual([
      expect.objectContaining({ success: true, user: 'alice', fields: expect.objectContaining({ roles: ['prod-admin'], durationMs: HOUR, reason: 'INC-42: payments stuck' }) }),
    ]);
  });

  it('alice sees it as hers; bob sees it as reviewable; both by id', async () => {
    const mine = await call(alice, 'GET', '/v1/access-requests');
    expect(mine.json.requests.map((r: AccessRequestInfo) => r.id)).toContain(request.id);
    const pending = await call(bob, 'GET', '/v1/access-requests?state=pending');
    expect(pending.status).toBe(200);
    expect(pending.json.requests.find((r: AccessRequestInfo) => r.id === request.id)).toMatchObject({ reviewable: true });
    expect((await call(bob, 'GET', '/v1/access-requests?state=approved')).json.requests.find((r: AccessRequestInfo) => r.id === request.id)).toBeUndefined();
    expect((await call(bob, 'GET', `/v1/access-requests/${request.id}`)).json).toMatchObject({ id: request.id, reviewable: true });
    expect((await call(alice, 'GET', `/v1/access-requests/${request.id}`)).json).toMatchObject({ id: request.id, reviewable: false });
  });

  it('before approval the re-issue is refused, and the refusal audited', async () => {
    const res = await reissue(alice, [request.id]);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/is pending, not approved/);
    expect(await auditOf('access_request.use', request.id)).toEqual([expect.objectContaining({ success: false, fields: expect.objectContaining({ reason: 'not_approved' }) })]);
  });

  it('bob approves: approved until now + 1h, audited, and alice now sees it approved', async () => {
    const res = await review(bob, request.id, 'approve', 'INC-42 is real');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ state: 'approved', reviewable: false, reviews: [{ reviewer: 'bob', decision: 'approve', reason: 'INC-42 is real' }] });
    expect(Date.parse(res.json.accessUntil)).toBe(clock.now().getTime() + HOUR);
    request = res.json;
    expect(await auditOf('access_request.review', request.id)).toEqual([
      expect.objectContaining({ success: true, user: 'bob', fields: expect.objectContaining({ decision: 'approve', state: 'approved', requester: 'alice' }) }),
    ]);
    expect((await review(bob, request.id, 'approve')).status).toBe(409);
  });

  it('alice re-issues: same key, her own roles, the request with prod-admin, its groups, ending with the access', async () => {
    const res = await reissue(alice, [request.id]);
    expect(res.status).toBe(200);
    const before = new X509Certificate(alice.cert);
    const after = new X509Certificate(res.json.certificate);
    expect(after.publicKey.export({ type: 'spki', format: 'der' })).toEqual(before.publicKey.export({ type: 'spki', format: 'der' }));
    const identity = identityFromCertificate(new Uint8Array(after.raw))!;
    expect(identity.roles).toEqual(['developer']);
    expect(identity.accessRequests).toEqual([{ id: request.id, roles: ['prod-admin'] }]);
    expect(identity.kubernetesGroups).toEqual(['developers', 'prod-admins']);
    expect(new Date(after.validTo).getTime()).toBe(Math.floor(Date.parse(request.accessUntil!) / 1000) * 1000);
    expect(res.json.validUntil).toBe(new Date(after.validTo).toISOString());
    expect(res.json).toMatchObject({ user: 'alice', roles: ['developer'] });
    const used = await auditOf('access_request.use', request.id);
    expect(used.at(-1)).toMatchObject({ success: true, user: 'alice', fields: { roles: ['prod-admin'] } });
    const issued = (await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === 'cert.issued' && e.fields.reissued === true);
    expect(issued.at(-1)).toMatchObject({ user: 'alice', fields: { accessRequests: [request.id] } });
  });

  it('at the end of the access the request expires (audited once), and the re-issue is refused', async () => {
    clock.advance(HOUR);
    const shown = await call(alice, 'GET', `/v1/access-requests/${request.id}`);
    expect(shown.json.state).toBe('expired');
    await call(bob, 'GET', '/v1/access-requests');
    expect(await stack.ztshd.auth.deps.storage.accessRequests.due(clock.now().getTime(), 10)).toEqual([]);
    expect(await auditOf('access_request.expire', request.id)).toEqual([expect.objectContaining({ success: true, user: 'alice', fields: expect.objectContaining({ from: 'approved' }) })]);
    const res = await reissue(alice, [request.id]);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/is expired/);
  });
});

describe('denied and dropped', () => {
  it('a denied request gives nothing', async () => {
    const made = (await create(alice, { roles: ['prod-admin'], reason: 'just curious' })).json as AccessRequestInfo;
    expect(made.durationMs).toBe(8 * HOUR); // the role's max_duration is the default
    const denied = await review(bob, made.id, 'deny', 'no incident open');
    expect(denied.json).toMatchObject({ state: 'denied', accessUntil: null });
    expect((await reissue(alice, [made.id])).status).toBe(403);
    expect((await review(carol, made.id, 'approve')).status).toBe(409);
  });

  it('the requester drops her request; nobody else may', async () => {
    const made = (await create(alice, { roles: ['prod-admin'], reason: 'maybe later' })).json as AccessRequestInfo;
    const byBob = await call(bob, 'DELETE', `/v1/access-requests/${made.id}`);
    expect(byBob.status).toBe(403);
    const dropped = await call(alice, 'DELETE', `/v1/access-requests/${made.id}`);
    expect(dropped).toMatchObject({ status: 200, json: { state: 'dropped' } });
    expect(await auditOf('access_request.drop', made.id)).toEqual([
      expect.objectContaining({ success: false, user: 'bob' }),
      expect.objectContaining({ success: true, user: 'alice', fields: expect.objectContaining({ from: 'pending' }) }),
    ]);
    expect((await review(bob, made.id, 'approve')).status).toBe(409);
    expect((await call(alice, 'DELETE', `/v1/access-requests/${made.id}`)).status).toBe(409);
  });

  it('a request for single pods carries them into the certificate', async () => {
    const made = await create(alice, { resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }], reason: 'INC-43', duration: '30m' });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ roles: ['prod-admin'], resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }] });
    await review(bob, made.json.id, 'approve');
    const res = await reissue(alice, [made.json.id]);
    const identity = identityFromCertificate(new Uint8Array(new X509Certificate(res.json.certificate).raw))!;
    expect(identity.accessRequests).toEqual([{ id: made.json.id, roles: ['prod-admin'], resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }] }]);
  });
});
