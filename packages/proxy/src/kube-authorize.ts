// Decides whether a kube request may go through: the user's current roles
// against the cluster's labels and the request's verb, resource, namespace
// and name. Deny rules win over allow rules. It also decides which
// Kubernetes user and groups the agent impersonates, including what
// `kubectl --as` / `--as-group` asked for, which a role must list.
import type { KubeResourceRule, Role } from '@ztsh/auth';
import type { Identity } from '@ztsh/protocol';
import type { KubeRequestInfo } from './kube-request-info.ts';

export interface ClusterInfo {
  name: string;
  labels: Record<string, string>;
}

export interface ImpersonationRequest {
  user?: string | undefined;
  groups: string[];
}

export type KubeDecision =
  | { allowed: true; kubernetesUser: string; kubernetesGroups: string[] }
  | { allowed: false; reason: string };

/** Glob with `*` only: `*` alone matches anything, `web-*` matches prefixes. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

export function labelsMatch(selector: Record<string, string | string[]> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, wanted]) => {
    const values = Array.isArray(wanted) ? wanted : [wanted];
    if (key === '*') return values.includes('*');
    const actual = labels[key];
    return actual !== undefined && values.some((v) => globMatch(v, actual));
  });
}

function ruleMatches(rule: KubeResourceRule, info: KubeRequestInfo): boolean {
  const kindOk = rule.kind === '*' || rule.kind === info.resource;
  const groupOk = rule.api_group === undefined || rule.api_group === '*' || rule.api_group === info.apiGroup;
  // Cluster-scoped objects have no namespace: only a "*" namespace rule covers them.
  const nsOk = info.namespace === '' ? rule.namespace === '*' : globMatch(rule.namespace, info.namespace);
  const nameOk = info.name === '' ? rule.name === '*' : globMatch(rule.name, info.name);
  const verbOk = rule.verbs.includes('*') || rule.verbs.includes(info.verb as never);
  return kindOk && groupOk && nsOk && nameOk && verbOk;
}

export function authorizeKube(identity: Identity, roles: Role[], cluster: ClusterInfo, info: KubeRequestInfo, asked: ImpersonationRequest): KubeDecision {
  for (const role of roles) {
    if (labelsMatch(role.spec.deny.kubernetes_labels, cluster.labels)) {
      return { allowed: false, reason: `role ${role.metadata.name} denies cluster ${cluster.name}` };
    }
  }
  const reaching = roles.filter((r) => labelsMatch(r.spec.allow.kubernetes_labels, cluster.labels));
  if (reaching.length === 0) return { allowed: false, reason: `no role of ${identity.user} allows cluster ${cluster.name}` };

  if (info.isResourceRequest) {
    for (const role of roles) {
      const rule = role.spec.deny.kubernetes_resources?.find((r) => ruleMatches(r, info));
      if (rule) return { allowed: false, reason: `role ${role.metadata.name} denies ${info.verb} ${info.resource}` };
    }
    const allowed = reaching.some((r) => r.spec.allow.kubernetes_resources?.some((rule) => ruleMatches(rule, info)));
    if (!allowed) return { allowed: false, reason: `no role of ${identity.user} allows ${info.verb} ${info.resource}${info.namespace ? ` in ${info.namespace}` : ''}` };
  }

  const users = new Set(reaching.flatMap((r) => r.spec.allow.kubernetes_users ?? []).filter((u) => identity.kubernetesUsers.includes(u)));
  const groups = new Set(reaching.flatMap((r) => r.spec.allow.kubernetes_groups ?? []).filter((g) => identity.kubernetesGroups.includes(g)));
  for (const role of roles) {
    (role.spec.deny.kubernetes_groups ?? []).forEach((g) => groups.delete(g));
    (role.spec.deny.kubernetes_users ?? []).forEach((u) => users.delete(u));
  }

  let kubernetesUser: string;
  if (asked.user !== undefined) {
    if (!users.has(asked.user)) return { allowed: false, reason: `${identity.user} may not impersonate user ${asked.user}` };
    kubernetesUser = asked.user;
  } else if (users.size > 1) {
    return { allowed: false, reason: `${identity.user} has several kubernetes users (${[...users].join(', ')}); choose one with --as` };
  } else {
    kubernetesUser = users.values().next().value ?? identity.user;
  }
  let kubernetesGroups = [...groups].sort();
  if (asked.groups.length > 0) {
    const refused = asked.groups.find((g) => !groups.has(g));
    if (refused !== undefined) return { allowed: false, reason: `${identity.user} may not impersonate group ${refused}` };
    kubernetesGroups = [...asked.groups].sort();
  }
  return { allowed: true, kubernetesUser, kubernetesGroups };
}
