// Per-session MFA policy, the one answer auth and the proxy share: which
// clusters need a fresh second factor for a user, for how long one check
// lasts, and whether a certificate's check still holds for a cluster.
//
// A cluster needs it when a role of the user that reaches the cluster (by
// its labels) says require_session_mfa: the login's own roles and those an
// access request granted alike, so elevated access to production is never
// looser than standing access. The interval is the smallest
// mfa_verification_interval among those roles (default 1h).
import type { Identity } from './identity.ts';
import { labelsMatch, type ClusterInfo, type EvaluatedRole } from './role-evaluator.ts';
import { DEFAULT_MFA_VERIFICATION_INTERVAL_MS } from './session-mfa.ts';

/** The shortest mfa_verification_interval a role may set: below it every check would be stale before kubectl used it. */
export const MIN_MFA_VERIFICATION_INTERVAL_MS = 60_000;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "1h", "30m", "1h30m" in ms; what the role schema's Duration accepts. Throws on anything else. */
export function sessionMfaIntervalMs(text: string): number {
  const parts = [...text.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`"${text}" is not a duration like 30m or 1h`);
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2] as keyof typeof UNIT_MS], 0);
  if (!Number.isSafeInteger(ms)) throw new Error(`"${text}" is too long a duration`);
  return ms;
}

/** The names of every role a certificate brings: the login's own, then those its access requests granted. */
export function certificateRoleNames(identity: Pick<Identity, 'roles' | 'accessRequests'>): string[] {
  return [...new Set([...identity.roles, ...(identity.accessRequests ?? []).flatMap((r) => r.roles)])];
}

function intervalOf(role: EvaluatedRole): number {
  const text = role.spec.options?.mfa_verification_interval;
  return text === undefined ? DEFAULT_MFA_VERIFICATION_INTERVAL_MS : sessionMfaIntervalMs(text);
}

function requiring(roles: readonly EvaluatedRole[]): EvaluatedRole[] {
  return roles.filter((r) => r.spec.options?.require_session_mfa === true);
}

/**
 * How long one check lasts for these roles, whatever the cluster: the
 * smallest interval of any role that requires session MFA (default 1h when
 * none sets one, or none requires it). Auth knows no cluster labels, so it
 * binds every certificate for this long; the proxy then holds each cluster to
 * its own interval, which is never shorter.
 */
export function sessionMfaInterval(roles: readonly EvaluatedRole[]): number {
  const intervals = requiring(roles).map(intervalOf);
  return intervals.length === 0 ? DEFAULT_MFA_VERIFICATION_INTERVAL_MS : Math.min(...intervals);
}

export type SessionMfaRequirement = { required: false } | { required: true; intervalMs: number; roles: string[] };

/** Whether requests to this cluster need a fresh check, by the roles that reach it. */
export function sessionMfaRequirement(roles: readonly EvaluatedRole[], cluster: ClusterInfo): SessionMfaRequirement {
  const reaching = requiring(roles).filter((r) => labelsMatch(r.spec.allow.kubernetes_labels, cluster.labels));
  if (reaching.length === 0) return { required: false };
  return { required: true, intervalMs: Math.min(...reaching.map(intervalOf)), roles: reaching.map((r) => r.metadata.name) };
}

export type SessionMfaVerdict =
  | { ok: true }
  | { ok: false; reason: 'session_mfa_missing' | 'session_mfa_other_cluster' | 'session_mfa_stale'; message: string };

/** The command that cures every refusal below. */
export function sessionMfaCommand(cluster: string): string {
  return `ztsh kube mfa --clusters ${cluster}`;
}

function minutes(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.ceil(ms / 1000)}s`;
}

/**
 * Whether the certificate's check holds for a cluster that requires one: it
 * names the cluster, and no more than the interval has passed since it was
 * made (by the caller's clock, the one certificates are checked against).
 */
export function checkSessionMfa(identity: Pick<Identity, 'sessionMfa'>, cluster: string, intervalMs: number, now: Date): SessionMfaVerdict {
  const cure = `run ${sessionMfaCommand(cluster)}`;
  const check = identity.sessionMfa;
  if (!check) return { ok: false, reason: 'session_mfa_missing', message: `cluster "${cluster}" needs a fresh MFA check for each session: ${cure}` };
  if (!check.clusters.includes(cluster)) {
    return { ok: false, reason: 'session_mfa_other_cluster', message: `this MFA check covers ${check.clusters.join(', ')}, not cluster "${cluster}": ${cure}` };
  }
  if (now.getTime() - check.verifiedAt > intervalMs) {
    return { ok: false, reason: 'session_mfa_stale', message: `the MFA check for cluster "${cluster}" is older than ${minutes(intervalMs)}: ${cure}` };
  }
  return { ok: true };
}
