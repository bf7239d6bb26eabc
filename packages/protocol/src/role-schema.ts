// Roles, in the YAML shape operators know from Teleport:
//   kind: role / version: v1 / metadata.name / spec.{options, allow, deny}
// One schema for both sides: auth checks the roles it loads with it, and a
// proxy run apart checks the copy auth sends it (role-evaluator.ts reads them).
import { z } from 'zod';

const Duration = z.string().regex(/^(\d+[smhd])+$/, 'must be a duration like 30m or 8h');
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
      })
      .default({}),
    allow: Conditions.default({}),
    deny: Conditions.default({}),
  }),
});

export type Role = z.infer<typeof RoleSchema>;
export type KubeResourceRule = z.infer<typeof KubeResourceRule>;
