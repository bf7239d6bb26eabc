// The certificate Identity: everything the proxy needs to authorize a request,
// carried as JSON in the user certificate. One encoder and one decoder;
// nobody else parses it.
import { z } from 'zod';

/**
 * The Identity travels in the certificate's subjectAltName extension, as one
 * URI: this prefix, then the Identity JSON in base64url. Not in an extension
 * of its own: an OID under the X.667 UUID arc (2.25.<uuid>) has a 128-bit
 * arc, and Go's x509 (kubectl, client-go) refuses to load any certificate
 * with an OID arc beyond 63 bits ("malformed extension OID field"). A SAN URI
 * needs no OID at all, and every X.509 parser reads it.
 */
export const IDENTITY_URI_PREFIX = 'urn:ztsh:identity:v1:';

export const IdentitySchema = z.strictObject({
  v: z.literal(1),
  user: z.string().min(1),
  roles: z.array(z.string()),
  kubernetesUsers: z.array(z.string()),
  kubernetesGroups: z.array(z.string()),
  traits: z.record(z.string(), z.array(z.string())),
  mfaVerified: z.boolean(),
  mfaMethod: z.enum(['totp', 'webauthn']).optional(),
  loginId: z.string(),
  connector: z.string(),
  issuedForIp: z.string(),
  /**
   * Access requests this certificate was re-issued under (ztsh login
   * --request-id): the roles each granted, and for a request of single
   * resources, the resources those roles are limited to. `roles` above stays
   * the login's own roles. The certificate's notAfter is at most each
   * request's end.
   */
  accessRequests: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        roles: z.array(z.string()),
        resources: z.array(z.strictObject({ cluster: z.string(), kind: z.string(), namespace: z.string(), name: z.string() })).optional(),
      }),
    )
    .optional(),
  /**
   * A session MFA certificate (ztsh kube mfa): the clusters one second-factor
   * check covers, and when it was made (ms since the epoch, auth's clock).
   */
  sessionMfa: z
    .strictObject({
      clusters: z.array(z.string()).min(1),
      verifiedAt: z.number().int(),
      method: z.enum(['totp', 'webauthn']),
    })
    .optional(),
  /** Host certificates only: the host's role and cluster. */
  host: z.strictObject({ role: z.enum(['agent', 'proxy']), cluster: z.string().optional() }).optional(),
});

export type Identity = z.infer<typeof IdentitySchema>;

export function identityUri(identity: Identity): string {
  return IDENTITY_URI_PREFIX + Buffer.from(JSON.stringify(IdentitySchema.parse(identity)), 'utf8').toString('base64url');
}

export function identityFromUri(uri: string): Identity {
  if (!uri.startsWith(IDENTITY_URI_PREFIX)) throw new Error('not a ztsh identity URI');
  const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(uri.slice(IDENTITY_URI_PREFIX.length), 'base64url')));
  return IdentitySchema.parse(json);
}

/** id-ce-subjectAltName (2.5.29.17) as a DER OBJECT IDENTIFIER. */
const SAN_OID_TLV = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const URI_TAG = 0x86; // GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String

/**
 * Reads the Identity out of a DER certificate: the ztsh URI in its
 * subjectAltName. Returns null when the certificate has none.
 */
export function identityFromCertificate(certDer: Uint8Array): Identity | null {
  const at = indexOf(certDer, SAN_OID_TLV);
  if (at < 0) return null;
  let i = at + SAN_OID_TLV.length;
  if (certDer[i] === 0x01) i += 3; // critical BOOLEAN
  if (certDer[i] !== 0x04) throw new Error('subjectAltName has no OCTET STRING value');
  const octets = readDerLength(certDer, i + 1);
  if (certDer[octets.offset] !== 0x30) throw new Error('subjectAltName is not a SEQUENCE');
  const names = readDerLength(certDer, octets.offset + 1);
  const end = names.offset + names.length;
  for (let p = names.offset; p < end; ) {
    const tag = certDer[p]!;
    const item = readDerLength(certDer, p + 1);
    if (tag === URI_TAG) {
      const uri = new TextDecoder('ascii').decode(certDer.subarray(item.offset, item.offset + item.length));
      if (uri.startsWith(IDENTITY_URI_PREFIX)) return identityFromUri(uri);
    }
    p = item.offset + item.length;
  }
  return null;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}


function readDerLength(der: Uint8Array, at: number): { length: number; offset: number } {
  const first = der[at];
  if (first === undefined) throw new Error('identity extension is truncated');
  if (first < 0x80) return { length: first, offset: at + 1 };
  const count = first & 0x7f;
  if (count === 0 || count > 4) throw new Error('identity extension has an unsupported length');
  let length = 0;
  for (let i = 1; i <= count; i++) {
    const b = der[at + i];
    if (b === undefined) throw new Error('identity extension is truncated');
    length = length * 256 + b;
  }
  return { length, offset: at + 1 + count };
}

