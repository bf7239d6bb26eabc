// The demo roles with access requests switched on, for the tests of issue 13:
// a `prod-admin` role nobody holds; developers (alice) may request it whole
// for up to 8h, or single pods under it; devops-admin (bob) reviews requests
// for it; auditors (carol) may request it and review it too (but never their
// own request).
import { DEV_ROLES } from '@ztsh/server';

type RoleInput = (typeof DEV_ROLES)[number];

export const PROD_ADMIN: RoleInput = {
  kind: 'role',
  version: 'v1',
  metadata: { name: 'prod-admin', description: 'full access to production, by request only' },
  spec: {
    options: { max_session_ttl: '8h', require_mfa: true },
    allow: {
      kubernetes_labels: { env: ['prod'] },
      kubernetes_groups: ['prod-admins'],
      kubernetes_resources: [{ kind: '*', namespace: '*', name: '*', verbs: ['*'] }],
    },
  },
};

const REQUEST = {
  roles: ['prod-admin'],
  search_as_roles: ['prod-admin'],
  max_duration: '8h',
  suggested_reviewers: ['bob'],
};

/** A fresh copy each call, for a stack's `roles`. */
export function requestRoles(): RoleInput[] {
  return structuredClone(ACCESS_REQUEST_ROLES);
}

export const ACCESS_REQUEST_ROLES: RoleInput[] = [
  ...DEV_ROLES.map((role): RoleInput => {
    const name = role.metadata.name;
    const spec = role.spec ?? {};
    if (name === 'developer') return { ...role, spec: { ...spec, allow: { ...spec.allow, request: REQUEST } } };
    if (name === 'devops-admin') return { ...role, spec: { ...spec, allow: { ...spec.allow, review_requests: { roles: ['prod-admin'] } } } };
    if (name === 'auditor') return { ...role, spec: { ...spec, allow: { ...spec.allow, request: { roles: ['prod-admin'] }, review_requests: { roles: ['prod-admin'] } } } };
    return role;
  }),
  PROD_ADMIN,
];
