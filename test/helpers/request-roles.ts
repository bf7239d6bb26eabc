// The dev roles with access requests switched on, for tests of the request
// flow: alice (developer) may ask for prod-admin (whole, or single pods under
// it) for up to 8h; bob (devops-admin) reviews requests for prod-admin;
// carol (auditor) may both ask and review, so her own request tests the
// "never one's own" rule. prod-admin reaches clusters labelled env=prod.
import { DEV_ROLES } from '@ztsh/server';

type RoleInput = (typeof DEV_ROLES)[number];

export const PROD_ADMIN: RoleInput = {
  kind: 'role',
  version: 'v1',
  metadata: { name: 'prod-admin', description: 'everything in production, for a while, by request' },
  spec: {
    options: { max_session_ttl: '8h', require_mfa: true },
    allow: {
      kubernetes_labels: { env: ['prod'] },
      kubernetes_groups: ['system:masters'],
      kubernetes_resources: [{ kind: '*', namespace: '*', name: '*', verbs: ['*'] }],
    },
  },
};

const REQUEST = { roles: ['prod-admin'], search_as_roles: ['prod-admin'], max_duration: '8h' };
const REVIEW = { roles: ['prod-admin'] };

export function requestRoles(): RoleInput[] {
  const changed = DEV_ROLES.map((role): RoleInput => {
    const allow = { ...role.spec.allow };
    if (role.metadata.name === 'developer') allow.request = REQUEST;
    if (role.metadata.name === 'devops-admin') allow.review_requests = REVIEW;
    if (role.metadata.name === 'auditor') Object.assign(allow, { request: REQUEST, review_requests: REVIEW });
    return { ...role, spec: { ...role.spec, allow } };
  });
  return [...changed, PROD_ADMIN];
}
