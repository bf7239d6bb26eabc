// Per-session MFA at the proxy: after the roles have let a kube request
// through, a cluster that a role reaching it marks require_session_mfa also
// wants a certificate from a fresh MFA check that names this cluster. The
// policy is @ztsh/protocol's (session-mfa-policy.ts), on the roles as they
// are defined now: own and those access requests granted.
import { certificateRoleNames, checkSessionMfa, type AuthClient, type ClusterInfo, type Identity, sessionMfaRequirement } from '@ztsh/protocol';

type Roles = Pick<AuthClient, 'roles'>;

/** The session MFA check a request passed, as its kube.request audit event names it. */
export interface SessionMfaUsed {
  method: 'totp' | 'webauthn';
  /** When the check was made (auth's clock), ISO 8601. */
  verifiedAt: string;
  /** The clusters that one check covers. */
  clusters: string[];
}

export type SessionMfaOutcome = { ok: false; message: string; reason: string } | { ok: true; used?: SessionMfaUsed | undefined };

/** The verdict on one request: refused, or passed, naming the check when the cluster asked for one. */
export function sessionMfaOutcome(auth: Roles, identity: Identity, cluster: ClusterInfo, now: Date): SessionMfaOutcome {
  const requirement = sessionMfaRequirement(auth.roles(certificateRoleNames(identity)), cluster);
  if (!requirement.required) return { ok: true };
  const verdict = checkSessionMfa(identity, cluster.name, requirement.intervalMs, now);
  if (!verdict.ok) return { ok: false, message: verdict.message, reason: verdict.reason };
  const mfa = identity.sessionMfa;
  return { ok: true, used: mfa ? { method: mfa.method, verifiedAt: new Date(mfa.verifiedAt).toISOString(), clusters: mfa.clusters } : undefined };
}

/** GET /v1/clusters: marks each cluster that wants a session MFA check of this user, so the CLI knows before kubectl asks. */
export function markSessionMfa<C extends ClusterInfo>(auth: Roles, identity: Identity, clusters: C[]): (C & { sessionMfa?: true })[] {
  const roles = auth.roles(certificateRoleNames(identity));
  return clusters.map((c) => (sessionMfaRequirement(roles, c).required ? { ...c, sessionMfa: true as const } : c));
}
