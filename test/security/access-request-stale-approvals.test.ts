// Two approvals are needed for prod-admin. An approval given by a reviewer
// who has since been locked (a reviewer's credentials misused: the lock is
// the documented response) or whose role no longer lets them review still
// counts towards the threshold when the second reviewer approves, and the
// request is approved on the strength of one valid reviewer.
import { DEV_ROLES } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

type RoleInput = (typeof DEV_ROLES)[number];

const PROD_ADMIN: RoleInput = {
  kind: 'role',
  version: 'v1',
  metadata: { name: 'prod-admin' },
  spec: { allow: { kubernetes_labels: { env: ['prod'] }, kubernetes_groups: ['prod-admins'], kubernetes_resources: [{ kind: '*', namespace: '*', name: '*', verbs: ['*'] }] } },
};

const ROLES: RoleInput[] = [
  ...DEV_ROLES.map((role): RoleInput => {
    const spec = role.spec ?? {};
    const name = role.metadata.name;
    if (name === 'developer') return { ...role, spec: { ...spec, allow: { ...spec.allow, request: { roles: ['prod-admin'], thresholds: [{ approve: 2, deny: 1 }] } } } };
    if (name === 'devops-admin' || name === 'auditor') return { ...role, spec: { ...spec, allow: { ...spec.allow, review_requests: { roles: ['prod-admin'] } } } };
    return role;
  }),
  PROD_ADMIN,
];

let stack: TestStack;
let alice: Credentials;
let bob: Credentials;
let carol: Credentials;
const target = (): Target => ({ url: stack.url, tlsCa: stack.tlsCa });

async function call(as: Credentials, method: string, path: string, body?: unknown) {
  const res = await rawRequest(target(), { method, path, as, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, json: res.body ? res.json() : undefined };
}
const approve = (as: Credentials, id: string) => call(as, 'POST', `/v1/access-requests/${id}/reviews`, { decision: 'approve', reason: 'ok' });

beforeAll(async () => {
  stack = await startTestStack({ roles: ROLES });
  [alice, bob, carol] = await Promise.all([credentialsOf(target(), 'alice'), credentialsOf(target(), 'bob'), credentialsOf(target(), 'carol')]);
}, 120_000);
afterAll(() => stack?.close());

describe('approvals of a reviewer who no longer may review', () => {
  it('a locked reviewer\'s approval does not count towards the threshold', async () => {
    const made = await call(alice, 'POST', '/v1/access-requests', { roles: ['prod-admin'], reason: 'INC-5' });
    expect(made.json.thresholds).toEqual({ approve: 2, deny: 1 });
    expect((await approve(bob, made.json.id)).json.state).toBe('pending');
    const lock = await stack.ztshd.auth.deps.locks.add({ target: { user: 'bob' }, message: 'bob\'s laptop stolen', createdBy: 'admin' });
    try {
      const second = await approve(carol, made.json.id);
      expect(second.status).toBe(200);
      // One approval of a reviewer in good standing: still pending.
      expect(second.json.state).toBe('pending');
    } finally {
      await stack.ztshd.auth.deps.locks.remove(lock.id, 'admin');
    }
  });
});
