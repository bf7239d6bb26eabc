// Per-session MFA: one second-factor check gives a short certificate, for
// the same key as the login's, bound to a set of clusters for the roles'
// mfa_verification_interval (never past the login certificate).
//
//   POST /v1/session-mfa   SessionMfaRequest -> SessionMfaResponse (client certificate auth)
//
// Which clusters need it: those a role with require_session_mfa reaches.
// GET /v1/clusters says so per cluster (`sessionMfa: true`), so `ztsh kube
// login` can mark the kubeconfig entry and the credential plugin knows
// without asking.
import { z } from 'zod';
import { CertificatePem, ClusterName } from './api.ts';

export const SessionMfaRequest = z.strictObject({
  /**
   * The clusters to bind. Always named by the client: its default is every
   * cluster GET /v1/clusters marks `sessionMfa`. Binding a cluster grants
   * nothing by itself (the proxy still asks the roles), so auth needs no
   * cluster list.
   */
  clusters: z.array(ClusterName).min(1).max(64),
  totp: z.strictObject({ code: z.string().regex(/^\d{6,8}$/, 'must be 6 to 8 digits') }),
});
export type SessionMfaRequest = z.input<typeof SessionMfaRequest>;

export const SessionMfaResponse = z.strictObject({
  certificate: CertificatePem,
  /** The clusters the certificate is bound to. */
  clusters: z.array(ClusterName),
  validUntil: z.string(),
  /** Auth's clock when it was issued. */
  issuedAt: z.string(),
});
export type SessionMfaResponse = z.infer<typeof SessionMfaResponse>;

/** The default mfa_verification_interval. */
export const DEFAULT_MFA_VERIFICATION_INTERVAL_MS = 3_600_000;
