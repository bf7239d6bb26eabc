// The serving certificate ztshd makes for itself when the config gives none:
// a throw-away ECDSA P-256 CA and one serverAuth certificate it signed. The
// CA's private key is dropped at once, so the CA can sign nothing else; its
// certificate is what clients trust (ztsh login --ca-file).
import 'reflect-metadata';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

export interface SelfSignedTls {
  /** PEM of the CA certificate, for clients to trust. */
  caCert: string;
  /** PEM of the server certificate (leaf only). */
  cert: string;
  /** PEM (PKCS#8) of the server certificate's private key. */
  key: string;
}

export interface SelfSignedOptions {
  /** Names the certificate is for, besides localhost and 127.0.0.1 (IP addresses become IP SANs). */
  hostnames: string[];
  now?: () => Date;
  /** Default SELF_SIGNED_VALIDITY_DAYS. */
  validityDays?: number;
}

/** A year: under the 398 days browsers accept, and ztshd makes a new one when it runs out. */
export const SELF_SIGNED_VALIDITY_DAYS = 365;

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

x509.cryptoProvider.set(globalThis.crypto);

export async function createSelfSignedTls(options: SelfSignedOptions): Promise<SelfSignedTls> {
  const now = (options.now ?? (() => new Date()))();
  // A minute back: a client whose clock is a little behind still accepts it.
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + (options.validityDays ?? SELF_SIGNED_VALIDITY_DAYS) * DAY_MS);
  const names = subjectAltNames(options.hostnames);
  const primary = names.find((n) => n.type === 'dns' && n.value !== 'localhost')?.value ?? 'localhost';

  const caKeys = await crypto.subtle.generateKey(EC, false, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=ztshd self-signed CA for ${escapeDn(primary)}`,
    notBefore,
    notAfter,
    signingAlgorithm: SIGN,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const leafKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${escapeDn(primary)}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: SIGN,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const pkcs8 = await crypto.subtle.exportKey('pkcs8', leafKeys.privateKey);
  return { caCert: ca.toString('pem'), cert: leaf.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

function subjectAltNames(hostnames: string[]): x509.JsonGeneralNames {
  const all = new Set(['localhost', '127.0.0.1', ...hostnames.map((h) => h.replace(/^\[(.*)\]$/, '$1').toLowerCase()).filter((h) => h !== '')]);
  return [...all].map((name) => ({ type: isIP(name) ? 'ip' : 'dns', value: name }));
}

/** A hostname is letters, digits, dots and dashes; anything else is kept out of the DN. */
function escapeDn(name: string): string {
  return name.replace(/[^\w.-]/g, '_');
}

/** 128 random bits, top bit cleared so the DER INTEGER stays positive. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
