// Roles, in the YAML shape operators know from Teleport:
//   kind: role / version: v1 / metadata.name / spec.{options, allow, deny}
// One schema for both sides: auth checks the roles it loads with it, and a
// proxy run apart checks the copy auth sends it (role-evaluator.ts reads them).
import { z } from 'zod';
import { MIN_MFA_VERIFICATION_INTERVAL_MS, sessionMfaIntervalMs } from './session-mfa-policy.ts';

const Duration = z.string().regex(/^(\d+[smhd])+$/, 'must be a duration like 30m or 8h');
/** A session MFA interval under a minute would be stale before kubectl used the certificate. */
function intervalLongEnough(text: string): boolean {
  try {
    return sessionMfaIntervalMs(text) >= MIN_MFA_VERIFICATION_INTERVAL_MS;
  } catch {
    return false;
  }
}
const Name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be lowercase letters, digits, ".", "_" or "-"');

export const KubeVerbs = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'exec',
  'attach',
  'portforward',
  'proxy',
  '*',
] as const;

export const KubeResourceRule = z.strictObject({
  kind: z.string().min(1),
  api_group: z.string().optional(),
  namespace: z.string().default('*'),
  name: z.string().default('*'),
  verbs: z.array(z.enum(KubeVerbs)).min(1),
});

export const Permissions = ['audit', 'admin'] as const;

const Conditions = z.strictObject({
  kubernetes_labels: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
  kubernetes_groups: z.array(z.string()).optional(),
  kubernetes_users: z.array(z.string()).optional(),
  kubernetes_resources: z.array(KubeResourceRule).optional(),
  /** Built-in permissions for the ztsh APIs: `audit` (search, replay), `admin` (locks, tokens). */
  permissions: z.array(z.enum(Permissions)).optional(),
  /**
   * Access requests (allow: what may be asked for; deny: what may not).
   * `roles`: roles that may be requested whole. `search_as_roles`: the roles
   * a request for single resources (`--resource /cluster/pod/ns/name`) is
   * granted under, limited to those resources; `kubernetes_resources` limits
   * which resources may be asked for. `max_duration`: the longest access a
   * request may ask (at most 7 days). `thresholds`: approvals (and denials)
   * it takes. `suggested_reviewers`: users named in the request.
   */
  request: z
    .strictObject({
      roles: z.array(Name).optional(),
      search_as_roles: z.array(Name).optional(),
      kubernetes_resources: z.array(z.strictObject({ kind: z.string().min(1), namespace: z.string().default('*'), name: z.string().default('*') })).optional(),
      max_duration: Duration.optional(),
      thresholds: z.array(z.strictObject({ approve: z.number().int().min(1).max(10).default(1), deny: z.number().int().min(1).max(10).default(1) })).optional(),
      suggested_reviewers: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  /** Whose requests this role may approve or deny: requests for these roles. Nobody reviews their own. */
  review_requests: z.strictObject({ roles: z.array(Name).min(1) }).optional(),
});

export const RoleSchema = z.strictObject({
  kind: z.literal('role'),
  version: z.literal('v1'),
  metadata: z.strictObject({ name: Name, description: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }),
  spec: z.strictObject({
    options: z
      .strictObject({
        max_session_ttl: Duration.optional(),
        require_mfa: z.boolean().optional(),
        /** Kube requests to the clusters this role reaches need a certificate from a fresh MFA check (ztsh kube mfa). */
        require_session_mfa: z.boolean().optional(),
        /** How long one session MFA check lasts (default 1h), never past the login's certificate. */
        mfa_verification_interval: Duration.refine(intervalLongEnough, 'must be at least 1m').optional(),
      })
      .default({}),
    allow: Conditions.default({}),
    deny: Conditions.default({}),
  }),
});

export type Role = z.infer<typeof RoleSchema>;
export type KubeResourceRule = z.infer<typeof KubeResourceRule>;
