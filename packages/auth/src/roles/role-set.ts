// What a set of roles grants a user at login: kube principals, whether MFA is
// required and the longest certificate lifetime any of them allows (the
// smallest max_session_ttl wins).
import { parseDuration } from '../duration.ts';
import type { LoginGrant } from '../storage/storage.ts';
import type { Role } from './role-schema.ts';

export interface GrantOptions {
  defaultTtlMs: number;
  /** Cluster-wide second-factor policy; a role with require_mfa makes it required for its users. */
  mfa: 'required' | 'optional';
}

/** Expands {{external.<claim>}} in kube users/groups from the user's traits. */
function expand(values: string[], traits: Record<string, string[]>): string[] {
  return values.flatMap((v) => {
    const m = /^\{\{\s*external\.([\w-]+)\s*\}\}$/.exec(v);
    return m ? (traits[m[1]!] ?? []) : [v];
  });
}

export function grantFor(roles: Role[], traits: Record<string, string[]>, options: GrantOptions): LoginGrant {
  const groups = new Set<string>();
  const users = new Set<string>();
  let maxTtlMs = options.defaultTtlMs;
  let requireMfa = options.mfa === 'required';
  for (const role of roles) {
    expand(role.spec.allow.kubernetes_groups ?? [], traits).forEach((g) => groups.add(g));
    expand(role.spec.allow.kubernetes_users ?? [], traits).forEach((u) => users.add(u));
    const ttl = role.spec.options.max_session_ttl;
    if (ttl) maxTtlMs = Math.min(maxTtlMs, parseDuration(ttl));
    if (role.spec.options.require_mfa) requireMfa = true;
  }
  for (const role of roles) {
    for (const g of expand(role.spec.deny.kubernetes_groups ?? [], traits)) groups.delete(g);
    for (const u of expand(role.spec.deny.kubernetes_users ?? [], traits)) users.delete(u);
  }
  return {
    roles: roles.map((r) => r.metadata.name),
    traits,
    kubernetesGroups: [...groups].sort(),
    kubernetesUsers: [...users].sort(),
    requireMfa,
    maxTtlMs,
  };
}
