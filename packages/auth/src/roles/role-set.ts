// What a set of roles grants a user at login: kube principals (from the one
// role evaluator in @ztsh/protocol, templates filled from the traits), whether
// MFA is required and the longest certificate lifetime any of them allows
// (the smallest max_session_ttl wins).
import { kubePrincipals, type Role } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';
import type { LoginGrant } from '../storage/storage.ts';

export interface GrantOptions {
  defaultTtlMs: number;
  /** Cluster-wide second-factor policy; a role with require_mfa makes it required for its users. */
  mfa: 'required' | 'optional';
}

export function grantFor(roles: Role[], traits: Record<string, string[]>, options: GrantOptions): LoginGrant {
  let maxTtlMs = options.defaultTtlMs;
  let requireMfa = options.mfa === 'required';
  for (const role of roles) {
    const ttl = role.spec.options.max_session_ttl;
    if (ttl) maxTtlMs = Math.min(maxTtlMs, parseDuration(ttl));
    if (role.spec.options.require_mfa) requireMfa = true;
  }
  const principals = kubePrincipals(roles, traits);
  return {
    roles: roles.map((r) => r.metadata.name),
    traits,
    kubernetesGroups: principals.groups,
    kubernetesUsers: principals.users,
    requireMfa,
    maxTtlMs,
  };
}
