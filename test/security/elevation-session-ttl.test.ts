// A requested role's max_session_ttl counts from the login, as it would had
// the login held the role, and no re-issue moves that start: not from the
// login certificate, nor from a certificate already elevated by a request
// whose roles set no limit (whose notBefore would otherwise be the re-issue's
// time). A requested role's require_mfa refuses a login without a second
// factor, and the refusal is audited.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { issueCertificate } from '@ztsh/auth';
import { identityFromCertificate } from '@ztsh/protocol';
import { DEV_ROLES, DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpLogin } from '../helpers/http-login.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

type RoleInput = (typeof DEV_ROLES)[number];

const prodRole = (name: string, options: object): RoleInput => ({
  kind: 'role',
  version: 'v1',
  metadata: { name },
  spec: { options, allow: { kubernetes_labels: { env: ['prod'] }, kubernetes_groups: [name], kubernetes_resources: [{ kind: 'pods', namespace: '*', name: '*', verbs: ['get'] }] } },
});

const ROLES: RoleInput[] = [
  ...DEV_ROLES.map((role): RoleInput => {
    const spec = role.spec ?? {};
    if (role.metadata.name === 'developer') {
      return { ...role, spec: { ...spec, options: { ...spec.options, require_mfa: false }, allow: { ...spec.allow, request: { roles: ['prod-short', 'prod-long', 'prod-mfa'], max_duration: '8h' } } } };
    }
    if (role.metadata.name === 'devops-admin') return { ...role, spec: { ...spec, allow: { ...spec.allow, review_requests: { roles: ['prod-short', 'prod-long', 'prod-mfa'] } } } };
    return role;
  }),
  prodRole('prod-short', { max_session_ttl: '1h' }),
  prodRole('prod-long', {}),
  prodRole('prod-mfa', { require_mfa: true }),
];

const aliceNoMfa = { ...DEV_USERS[0]!, totpSecret: undefined };
const USERS = [aliceNoMfa, ...DEV_USERS.slice(1)];

let stack: TestStack;
let alice: Credentials;
let bob: Credentials;

const target = (): Target => ({ url: stack.url, tlsCa: stack.tlsCa });

async function loginOf(user: (typeof USERS)[number]): Promise<Credentials> {
  const login = await httpLogin(stack.url, stack.tlsCa, user as { username: string; password: string; totpSecret?: string });
  if (login.status !== 200) throw new Error(`login of ${user.username}: ${login.status} ${JSON.stringify(login.json)}`);
  return { cert: login.json.certificate as string, key: login.keys.privateKey };
}

async function call(as: Credentials, method: string, path: string, body?: unknown) {
  const res = await rawRequest(target(), { method, path, as, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, json: res.body ? res.json() : undefined };
}

async function approved(role: string, duration: string): Promise<string> {
  const made = await call(alice, 'POST', '/v1/access-requests', { roles: [role], reason: 'INC-7', duration });
  expect(made.status, JSON.stringify(made.json)).toBe(201);
  const reviewed = await call(bob, 'POST', `/v1/access-requests/${made.json.id}/reviews`, { decision: 'approve', reason: 'ok' });
  expect(reviewed.json.state).toBe('approved');
  return made.json.id as string;
}

/** Alice's login certificate as it would be had she logged in `agoMs` ago: same identity and key, issued by the same CA. */
function loginFrom(agoMs: number): Credentials {
  const identity = identityFromCertificate(new Uint8Array(new X509Certificate(alice.cert).raw))!;
  const publicKey = createPublicKey(alice.key).export({ type: 'spki', format: 'der' });
  const now = Date.now();
  const issued = issueCertificate({ ca: stack.ztshd.auth.userCa, publicKey, identity, notBefore: new Date(now - agoMs - 60_000), notAfter: new Date(now - agoMs + 8 * 3_600_000) });
  return { cert: issued.pem, key: alice.key };
}

const validity = (pem: string) => {
  const cert = new X509Certificate(pem);
  return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
};

beforeAll(async () => {
  stack = await startTestStack({ users: USERS, roles: ROLES, auth: { mfa: 'optional' } });
  alice = await loginOf(aliceNoMfa);
  bob = await loginOf(DEV_USERS[1]!);
}, 120_000);
afterAll(() => stack?.close());

describe("a requested role's max_session_ttl and require_mfa", () => {
  it('caps a fresh login\'s elevated certificate at the role\'s 1h, though the request is for 4h', async () => {
    const id = await approved('prod-short', '4h');
    const res = await call(alice, 'POST', '/v1/certificates/reissue', { accessRequests: [id] });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const login = validity(alice.cert);
    const elevated = validity(res.json.certificate);
    // Counted from the login (its notBefore is kept), not from the re-issue.
    expect(elevated.from).toBe(login.from);
    expect(elevated.to).toBeLessThanOrEqual(login.from + 60_000 + 3_600_000);
    expect(Date.parse(res.json.validUntil)).toBe(elevated.to);
  });

  it('refuses a login older than the role\'s max_session_ttl, and audits it', async () => {
    const id = await approved('prod-short', '4h');
    const res = await call(loginFrom(2 * 3_600_000), 'POST', '/v1/certificates/reissue', { accessRequests: [id] });
    expect(res.status, JSON.stringify(res.json)).toBe(403);
    expect(res.json.error.hint).toContain('ztsh login again');
    const events = await stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 });
    expect(events.some((e) => e.type === 'access_request.use' && !e.success && e.fields.reason === 'session_ttl')).toBe(true);
  });

  it('is not moved later by re-issuing a certificate elevated first by a request without a limit', async () => {
    const long = await approved('prod-long', '4h');
    const short = await approved('prod-short', '4h');
    const old = loginFrom(2 * 3_600_000);
    const first = await call(old, 'POST', '/v1/certificates/reissue', { accessRequests: [long] });
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    expect(validity(first.json.certificate).from).toBe(validity(old.cert).from);
    const second = await call({ cert: first.json.certificate, key: alice.key }, 'POST', '/v1/certificates/reissue', { accessRequests: [short] });
    expect(second.status, JSON.stringify(second.json)).toBe(403);
  });

  it('refuses a require_mfa role to a login without a second factor, with the way out, and audits it', async () => {
    const id = await approved('prod-mfa', '1h');
    const res = await call(alice, 'POST', '/v1/certificates/reissue', { accessRequests: [id] });
    expect(res.status, JSON.stringify(res.json)).toBe(401);
    expect(res.json.error.code).toBe('mfa_required');
    expect(res.json.error.hint).toBe(`run ztsh login again with your second factor, then ztsh login --request-id ${id}`);
    const events = await stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 });
    expect(events.some((e) => e.type === 'access_request.use' && !e.success && e.fields.reason === 'mfa_required')).toBe(true);
    // The roles without require_mfa are still given to the same login.
    const other = await approved('prod-long', '1h');
    expect((await call(alice, 'POST', '/v1/certificates/reissue', { accessRequests: [other] })).status).toBe(200);
  });
});
