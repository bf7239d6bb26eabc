// The one role evaluator. Login asks it which Kubernetes users and groups go
// into the certificate, the auth API which permissions a caller holds, and
// the proxy whether a kube request may pass and as whom (and what to answer
// `kubectl auth can-i`). Role templates such as {{external.groups}} are filled
// from the user's traits here and nowhere else, so the principals the proxy
// impersonates are the ones login wrote into the certificate.
//
// Roles are typed by the shape read here rather than by the zod schema
// (role-schema.ts): a Role parsed by that schema fits these types, and so
// does a hand-built one in a test.
import type { Identity } from './identity.ts';

export interface RoleResourceRule {
  kind: string;
  api_group?: string | undefined;
  namespace: string;
  name: string;
  verbs: readonly string[];
}

export interface RoleConditions {
  kubernetes_labels?: Record<string, string | string[]> | undefined;
  kubernetes_groups?: string[] | undefined;
  kubernetes_users?: string[] | undefined;
  kubernetes_resources?: RoleResourceRule[] | undefined;
  permissions?: readonly string[] | undefined;
}

export interface EvaluatedRole {
  metadata: { name: string };
  spec: {
    allow: RoleConditions;
    deny: RoleConditions;
    options?: { require_session_mfa?: boolean | undefined; mfa_verification_interval?: string | undefined } | undefined;
  };
}

export type Traits = Record<string, string[]>;

const TEMPLATE = /^\{\{\s*external\.([\w-]+)\s*\}\}$/;

/**
 * Fills `{{external.<trait>}}` values with the user's trait values; a missing
 * trait fills nothing. Only a whole value is a template: `x-{{external.a}}`
 * stays as written. Filled values are not filled again.
 */
export function fillTemplates(values: readonly string[] | undefined, traits: Traits): string[] {
  return (values ?? []).flatMap((value) => {
    const m = TEMPLATE.exec(value);
    if (!m) return [value];
    // Own keys only: "constructor" or "__proto__" must not reach Object's.
    const filled: unknown = Object.hasOwn(traits, m[1]!) ? traits[m[1]!] : undefined;
    return Array.isArray(filled) ? filled.filter((v): v is string => typeof v === 'string' && v !== '') : [];
  });
}

export interface KubePrincipals {
  users: string[];
  groups: string[];
}

/**
 * The Kubernetes users and groups `allowFrom` allows, minus what any of
 * `roles` denies (deny wins whatever the order), templates filled, sorted.
 */
export function kubePrincipals(roles: readonly EvaluatedRole[], traits: Traits, allowFrom: readonly EvaluatedRole[] = roles): KubePrincipals {
  const users = new Set(allowFrom.flatMap((r) => fillTemplates(r.spec.allow.kubernetes_users, traits)));
  const groups = new Set(allowFrom.flatMap((r) => fillTemplates(r.spec.allow.kubernetes_groups, traits)));
  for (const role of roles) {
    fillTemplates(role.spec.deny.kubernetes_users, traits).forEach((u) => users.delete(u));
    fillTemplates(role.spec.deny.kubernetes_groups, traits).forEach((g) => groups.delete(g));
  }
  return { users: [...users].sort(), groups: [...groups].sort() };
}

/** The ztsh API permissions (audit, admin) the roles grant: allowed by one, denied by none. */
export function permissionsOf(roles: readonly EvaluatedRole[]): Set<string> {
  const granted = new Set(roles.flatMap((r) => r.spec.allow.permissions ?? []));
  for (const role of roles) for (const p of role.spec.deny.permissions ?? []) granted.delete(p);
  return granted;
}

/** Glob with `*` only: `*` alone matches anything, `web-*` matches prefixes. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(value);
}

export function labelsMatch(selector: Record<string, string | string[]> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, wanted]) => {
    const values = Array.isArray(wanted) ? wanted : [wanted];
    if (key === '*') return values.includes('*');
    const actual = Object.hasOwn(labels, key) ? labels[key] : undefined;
    return actual !== undefined && values.some((v) => globMatch(v, actual));
  });
}

export interface ClusterInfo {
  name: string;
  labels: Record<string, string>;
}

/** The roles that reach a cluster by its labels, or why none may: one role's deny is enough. */
export function rolesReaching(
  user: string,
  roles: readonly EvaluatedRole[],
  cluster: ClusterInfo,
): { ok: true; reaching: EvaluatedRole[] } | { ok: false; reason: string } {
  const denying = roles.find((r) => labelsMatch(r.spec.deny.kubernetes_labels, cluster.labels));
  if (denying) return { ok: false, reason: `role ${denying.metadata.name} denies cluster ${cluster.name}` };
  const reaching = roles.filter((r) => labelsMatch(r.spec.allow.kubernetes_labels, cluster.labels));
  if (reaching.length === 0) return { ok: false, reason: `no role of ${user} allows cluster ${cluster.name}` };
  return { ok: true, reaching };
}

/**
 * What is asked of the cluster. An empty namespace or name means all of them
 * (a list across namespaces, a cluster-scoped object, a collection); `*` as
 * verb, resource or API group means every one (only reviews ask that).
 */
export interface KubeAsk {
  isResourceRequest: boolean;
  verb: string;
  apiGroup: string;
  resource: string;
  namespace: string;
  name: string;
}

/** True when the rule allows all of what is asked: an allow rule must cover the request. */
export function ruleCovers(rule: RoleResourceRule, ask: KubeAsk): boolean {
  return (
    (rule.kind === '*' || rule.kind === ask.resource) &&
    (rule.api_group === undefined || rule.api_group === '*' || rule.api_group === ask.apiGroup) &&
    (ask.namespace === '' ? rule.namespace === '*' : globMatch(rule.namespace, ask.namespace)) &&
    (ask.name === '' ? rule.name === '*' : globMatch(rule.name, ask.name)) &&
    (rule.verbs.includes('*') || rule.verbs.includes(ask.verb))
  );
}

/**
 * True when the rule touches any part of what is asked: a deny rule refuses
 * a request it overlaps. A list across all namespaces includes the denied
 * namespace; a list of all names includes the denied name.
 */
export function ruleOverlaps(rule: RoleResourceRule, ask: KubeAsk): boolean {
  return (
    (rule.kind === '*' || ask.resource === '*' || rule.kind === ask.resource) &&
    (rule.api_group === undefined || rule.api_group === '*' || ask.apiGroup === '*' || rule.api_group === ask.apiGroup) &&
    (ask.namespace === '' || globMatch(rule.namespace, ask.namespace)) &&
    (ask.name === '' || globMatch(rule.name, ask.name)) &&
    (rule.verbs.includes('*') || ask.verb === '*' || rule.verbs.includes(ask.verb))
  );
}

export interface ImpersonationRequest {
  user?: string | undefined;
  groups: string[];
}

export type KubeDecision =
  | { allowed: true; kubernetesUser: string; kubernetesGroups: string[] }
  | { allowed: false; reason: string };

export type KubeIdentity = Pick<Identity, 'user' | 'kubernetesUsers' | 'kubernetesGroups' | 'traits'>;

/**
 * Whether a kube request may pass, and as which Kubernetes user and groups.
 * The principals are what the current roles allow on this cluster (templates
 * filled from the certificate's traits) and what the certificate carries:
 * both must agree. `kubectl --as` / `--as-group` may pick among them, and
 * may name the user the request would be impersonated as anyway.
 */
export function evaluateKubeAccess(
  identity: KubeIdentity,
  roles: readonly EvaluatedRole[],
  cluster: ClusterInfo,
  ask: KubeAsk,
  asked: ImpersonationRequest,
): KubeDecision {
  const reach = rolesReaching(identity.user, roles, cluster);
  if (!reach.ok) return { allowed: false, reason: reach.reason };

  if (ask.isResourceRequest) {
    for (const role of roles) {
      if (role.spec.deny.kubernetes_resources?.some((r) => ruleOverlaps(r, ask))) {
        return { allowed: false, reason: `role ${role.metadata.name} denies ${ask.verb} ${ask.resource}` };
      }
    }
    const allowed = reach.reaching.some((r) => r.spec.allow.kubernetes_resources?.some((rule) => ruleCovers(rule, ask)));
    if (!allowed) return { allowed: false, reason: `no role of ${identity.user} allows ${ask.verb} ${ask.resource}${ask.namespace ? ` in ${ask.namespace}` : ''}` };
  }

  const principals = kubePrincipals(roles, identity.traits, reach.reaching);
  const users = principals.users.filter((u) => identity.kubernetesUsers.includes(u));
  const groups = principals.groups.filter((g) => identity.kubernetesGroups.includes(g));

  if (asked.user === undefined && users.length > 1) {
    return { allowed: false, reason: `${identity.user} has several kubernetes users (${users.join(', ')}); choose one with --as` };
  }
  const defaultUser = users.length === 1 ? users[0]! : users.length === 0 ? identity.user : undefined;
  let kubernetesUser = defaultUser ?? '';
  if (asked.user !== undefined) {
    // kubectl sends --as whenever --as-group is used: naming the user one is
    // impersonated as anyway asks for nothing more.
    if (!users.includes(asked.user) && asked.user !== defaultUser) return { allowed: false, reason: `${identity.user} may not impersonate user ${asked.user}` };
    kubernetesUser = asked.user;
  }
  let kubernetesGroups = groups;
  if (asked.groups.length > 0) {
    const refused = asked.groups.find((g) => !groups.includes(g));
    if (refused !== undefined) return { allowed: false, reason: `${identity.user} may not impersonate group ${refused}` };
    kubernetesGroups = [...new Set(asked.groups)].sort();
  }
  return { allowed: true, kubernetesUser, kubernetesGroups };
}
