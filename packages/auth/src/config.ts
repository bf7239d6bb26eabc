// The `auth` section of ztsh.yaml: connectors, roles, MFA policy, CA key
// protection. Strict: unknown keys are errors that name the path.
import { z } from 'zod';
import { RoleSchema } from '@ztsh/protocol';
import { AccessRequestsConfigSchema } from './access-requests/webhook-config.ts';

const Duration = z.string().regex(/^(\d+[smhd])+$/, 'must be a duration like 30m or 8h');
const Name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "_" or "-"');

/** A secret given inline, from a file, or from an environment variable. */
export const SecretSource = z.union([
  z.string().min(1),
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ env: z.string().min(1) }),
]);
export type SecretSource = z.infer<typeof SecretSource>;

export const ClaimMapping = z.strictObject({
  claim: z.string().min(1),
  value: z.string().min(1),
  roles: z.array(z.string().min(1)).min(1),
});

export const OidcConnectorSchema = z.strictObject({
  name: Name,
  type: z.literal('oidc'),
  display_name: z.string().optional(),
  issuer: z.url().refine((u) => u.startsWith('https://'), 'must be an https:// URL (OIDC requires TLS)'),
  client_id: z.string().min(1),
  client_secret: SecretSource,
  /** PEM bundle trusted for the IdP's TLS in addition to the system's roots (an internal CA); relative to the config file. */
  ca_file: z.string().optional(),
  scopes: z.array(z.string()).default(['openid', 'email', 'profile', 'groups']),
  /** ID-token claim that becomes the ztsh user name. */
  username_claim: z.string().default('email'),
  claims_to_roles: z.array(ClaimMapping).min(1),
  /** The IdP's own session limit; certificates never outlive it. */
  max_session_ttl: Duration.optional(),
});
export type OidcConnectorConfig = z.infer<typeof OidcConnectorSchema>;

export const AuthConfigSchema = z.strictObject({
  cluster_name: Name.default('ztsh'),
  /** Seals the CA private keys at rest (AES-256-GCM, scrypt-derived key). */
  ca_key_secret: SecretSource.optional(),
  default_ttl: Duration.default('8h'),
  /** Cluster-wide second-factor policy; a role's require_mfa makes it required for that role's users. */
  mfa: z.enum(['required', 'optional']).default('required'),
  /** Which second factors users may enroll and use. */
  mfa_methods: z.array(z.enum(['totp', 'webauthn'])).min(1).default(['totp', 'webauthn']),
  webauthn: z
    .strictObject({
      rp_name: z.string().default('ztsh'),
      /** Defaults to the host name of the public address. */
      rp_id: z.string().optional(),
    })
    .default({ rp_name: 'ztsh' }),
  connectors: z.array(OidcConnectorSchema).min(1),
  default_connector: z.string().optional(),
  roles: z.array(RoleSchema).default([]),
  /** YAML file(s) of roles, relative to the config file. */
  roles_files: z.array(z.string()).default([]),
  /** Access requests: webhook notifications on create, approve and deny. */
  access_requests: AccessRequestsConfigSchema.optional(),
});
export type AuthConfig = z.infer<typeof AuthConfigSchema>;
export type AuthConfigInput = z.input<typeof AuthConfigSchema>;
