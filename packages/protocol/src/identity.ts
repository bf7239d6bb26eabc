// The certificate Identity: everything the proxy needs to authorize a request,
// carried as JSON inside one X.509 extension of the user certificate.
// One encoder and one decoder; nobody else parses the extension.
import { z } from 'zod';

/**
 * OID of the Identity extension, under the X.667 UUID arc (2.25.<uuid as an
 * integer>), which needs no registration. UUID 6f1c2a7e-93b4-4d51-8a0e-5c7d2f9b3e41.
 */
export const IDENTITY_EXTENSION_OID = `2.25.${BigInt('0x6f1c2a7e93b44d518a0e5c7d2f9b3e41').toString(10)}`;

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
  /** Host certificates only: the host's role and cluster. */
  host: z.strictObject({ role: z.enum(['agent', 'proxy']), cluster: z.string().optional() }).optional(),
});

export type Identity = z.infer<typeof IdentitySchema>;

/** DER UTF8String holding the Identity JSON: the extension's value. */
export function encodeIdentity(identity: Identity): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(IdentitySchema.parse(identity)));
  return concat(Uint8Array.of(0x0c), derLength(json.length), json);
}

export function decodeIdentity(der: Uint8Array): Identity {
  if (der[0] !== 0x0c) throw new Error('identity extension is not a UTF8String');
  const { length, offset } = readDerLength(der, 1);
  if (offset + length !== der.length) throw new Error('identity extension has a bad length');
  const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(der.subarray(offset)));
  return IdentitySchema.parse(json);
}

/**
 * Reads the Identity out of a DER certificate. It locates the extension by
 * its encoded OID rather than through an ASN.1 library: common decoders
 * mangle 128-bit arcs like ours. Returns null when the certificate has none.
 */
export function identityFromCertificate(certDer: Uint8Array): Identity | null {
  const at = indexOf(certDer, IDENTITY_OID_TLV);
  if (at < 0) return null;
  let i = at + IDENTITY_OID_TLV.length;
  if (certDer[i] === 0x01) i += 3; // critical BOOLEAN
  if (certDer[i] !== 0x04) throw new Error('identity extension has no OCTET STRING value');
  const { length, offset } = readDerLength(certDer, i + 1);
  return decodeIdentity(certDer.subarray(offset, offset + length));
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((a) => BigInt(a));
  const [a = 0n, b = 0n, ...rest] = arcs;
  const body: number[] = [];
  for (const arc of [a * 40n + b, ...rest]) {
    const chunk: number[] = [];
    for (let v = arc; ; v >>= 7n) {
      chunk.unshift(Number(v & 0x7fn) | (chunk.length ? 0x80 : 0));
      if (v < 0x80n) break;
    }
    body.push(...chunk);
  }
  return Uint8Array.of(0x06, body.length, ...body);
}

const IDENTITY_OID_TLV = encodeOid(IDENTITY_EXTENSION_OID);

/** The Identity extension's OID as DER (tag, length and body). */
export function identityOidDer(): Uint8Array {
  return IDENTITY_OID_TLV.slice();
}

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
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

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}
