// Request and response bodies of the auth API (/v1/...). Both the server's
// guard middleware and the CLI validate against these schemas.
import { z } from 'zod';

const pem = (label: string) =>
  z.string().max(16_384).regex(new RegExp(`^-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----\\s*$`), `must be a PEM ${label}`);

export const PublicKeyPem = pem('PUBLIC KEY');
export const CertificatePem = pem('CERTIFICATE');

/** Requested certificate lifetime, e.g. "8h", "30m". */
export const TtlString = z.string().regex(/^\d{1,6}(s|m|h)$/, 'must look like 30m or 8h');

export const ClientInfo = z.strictObject({
  name: z.string().max(64),
  hostname: z.string().max(255),
  version: z.string().max(32).optional(),
});
export type ClientInfo = z.infer<typeof ClientInfo>;

/** base64url, 43 chars: SHA-256 of the client's verifier. */
export const VerifierHash = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be base64url SHA-256');
export const Verifier = z.string().regex(/^[A-Za-z0-9_-]{43,128}$/, 'must be 43 to 128 base64url characters');

/** Where a browser step sends its one-time code: the CLI's listener on loopback, never another host. */
export const LoopbackRedirect = z
  .url()
  .max(256)
  .refine((u) => /^http:\/\/(127\.0\.0\.1|\[::1\]):\d+\//.test(u), 'must be http://127.0.0.1:PORT/...');

export const LoginStartRequest = z.strictObject({
  connector: z.string().min(1).max(64).optional(),
  publicKey: PublicKeyPem,
  redirect: LoopbackRedirect,
  verifierHash: VerifierHash,
  ttl: TtlString.optional(),
  client: ClientInfo.optional(),
});
export type LoginStartRequest = z.infer<typeof LoginStartRequest>;

export const LoginStartResponse = z.strictObject({
  loginId: z.string(),
  url: z.url(),
  expiresAt: z.string(),
});
export type LoginStartResponse = z.infer<typeof LoginStartResponse>;

export const LoginExchangeRequest = z.strictObject({
  code: z.string().min(1).max(128),
  verifier: Verifier,
});
export type LoginExchangeRequest = z.infer<typeof LoginExchangeRequest>;

export const DeviceStartRequest = z.strictObject({
  connector: z.string().min(1).max(64).optional(),
  publicKey: PublicKeyPem,
  verifierHash: VerifierHash,
  ttl: TtlString.optional(),
  client: ClientInfo.optional(),
});
export type DeviceStartRequest = z.infer<typeof DeviceStartRequest>;

export const DeviceStartResponse = z.strictObject({
  deviceCode: z.string(),
  userCode: z.string(),
  verificationUri: z.url(),
  verificationUriComplete: z.url(),
  interval: z.number().int().positive(),
  expiresAt: z.string(),
});
export type DeviceStartResponse = z.infer<typeof DeviceStartResponse>;

export const DeviceTokenRequest = z.strictObject({
  deviceCode: z.string().min(1).max(128),
  verifier: Verifier,
});
export type DeviceTokenRequest = z.infer<typeof DeviceTokenRequest>;

/** What a successful login hands the client: its certificate and what to trust. */
export const Certificates = z.strictObject({
  certificate: CertificatePem,
  userCaCertificates: z.array(CertificatePem).min(1),
  hostCaCertificates: z.array(CertificatePem).min(1),
  user: z.string(),
  roles: z.array(z.string()),
  kubernetesGroups: z.array(z.string()),
  kubernetesUsers: z.array(z.string()),
  mfaVerified: z.boolean(),
  mfaMethod: z.enum(['totp', 'webauthn']).optional(),
  validUntil: z.string(),
});
export type Certificates = z.infer<typeof Certificates>;

export const ConnectorsResponse = z.strictObject({
  connectors: z.array(z.strictObject({ name: z.string(), displayName: z.string(), type: z.literal('oidc') })),
  defaultConnector: z.string().optional(),
});
export type ConnectorsResponse = z.infer<typeof ConnectorsResponse>;

/** Cluster names: DNS-label-like, they appear in URLs (/k8s/<cluster>/...). */
export const ClusterName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits and "-", at most 63');

export const JoinRequest = z.strictObject({
  token: z.string().min(1).max(256),
  /** What joins: an agent serving a cluster (the default), or a proxy running apart from auth. */
  role: z.enum(['agent', 'proxy']).default('agent'),
  /** The cluster an agent serves; a proxy sends none. */
  cluster: ClusterName.optional(),
  publicKey: PublicKeyPem,
  hostname: z.string().max(255).optional(),
});
export type JoinRequest = z.input<typeof JoinRequest>;

export const JoinResponse = z.strictObject({
  certificate: CertificatePem,
  hostCaCertificates: z.array(CertificatePem).min(1),
  userCaCertificates: z.array(CertificatePem).min(1),
  hostId: z.string(),
  validUntil: z.string(),
});
export type JoinResponse = z.infer<typeof JoinResponse>;
