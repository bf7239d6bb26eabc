// Per-session MFA: one second-factor check gives a short certificate, for
// the same key as the login's, bound to a set of clusters for the roles'
// mfa_verification_interval (never past the login certificate).
//
//   GET  /v1/session-mfa           -> SessionMfaMethods (which second factors the caller can use)
//   POST /v1/session-mfa/browser   SessionMfaBrowserStart -> SessionMfaBrowserStarted
//   POST /v1/session-mfa           SessionMfaRequest -> SessionMfaResponse
// All with the certificate of ztsh login (client certificate auth).
//
// A TOTP code is typed in the terminal and sent with the request. A security
// key needs a browser: the CLI starts a check with its loopback redirect and
// the hash of a verifier, opens the URL, and the page runs the WebAuthn
// ceremony for the user the certificate names. The browser is then sent to
// the redirect with a one-time code, which the CLI sends with the verifier,
// over the same certificate's key, to get the short certificate.
//
// Which clusters need it: those a role with require_session_mfa reaches.
// GET /v1/clusters says so per cluster (`sessionMfa: true`), so `ztsh kube
// login` can mark the kubeconfig entry and the credential plugin knows
// without asking.
import { z } from 'zod';
import { CertificatePem, ClientInfo, ClusterName, LoopbackRedirect, Verifier, VerifierHash } from './api.ts';

export const SessionMfaMethod = z.enum(['totp', 'webauthn']);
export type SessionMfaMethod = z.infer<typeof SessionMfaMethod>;

/** The second factors the caller has enrolled and the policy accepts, in the order a client should prefer. */
export const SessionMfaMethods = z.strictObject({ methods: z.array(SessionMfaMethod) });
export type SessionMfaMethods = z.infer<typeof SessionMfaMethods>;

/**
 * The clusters to bind. Always named by the client: its default is every
 * cluster GET /v1/clusters marks `sessionMfa`. Binding a cluster grants
 * nothing by itself (the proxy still asks the roles), so auth needs no
 * cluster list.
 */
const BoundClusters = z.array(ClusterName).min(1).max(64);

/** Starts a check in the browser (a security key). The clusters are fixed here; the redeem names the same ones. */
export const SessionMfaBrowserStart = z.strictObject({
  clusters: BoundClusters,
  redirect: LoopbackRedirect,
  verifierHash: VerifierHash,
  client: ClientInfo.optional(),
});
export type SessionMfaBrowserStart = z.infer<typeof SessionMfaBrowserStart>;

export const SessionMfaBrowserStarted = z.strictObject({
  /** The check's id: the redeem names it. */
  id: z.string(),
  /** The page to open in the browser. */
  url: z.url(),
  expiresAt: z.string(),
});
export type SessionMfaBrowserStarted = z.infer<typeof SessionMfaBrowserStarted>;

export const SessionMfaRequest = z.union([
  z.strictObject({
    clusters: BoundClusters,
    totp: z.strictObject({ code: z.string().regex(/^\d{6,8}$/, 'must be 6 to 8 digits') }),
  }),
  z.strictObject({
    clusters: BoundClusters,
    /** A browser check: its id, the one-time code the browser brought back, and the verifier whose hash started it. */
    browser: z.strictObject({ id: z.string().min(1).max(64), code: z.string().min(1).max(128), verifier: Verifier }),
  }),
]);
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
