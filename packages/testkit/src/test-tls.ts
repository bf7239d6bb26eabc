// Throw-away TLS material for tests and the dev stack: a self-signed ECDSA P-256 CA
// ("ztsh dev TLS CA") and one server certificate it signed, all as PEM strings.
// Built with @peculiar/x509 on WebCrypto; nothing is written to disk.
import 'reflect-metadata';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

export interface TestTls {
  /** PEM of the CA certificate: give it to clients as `ca`. */
  caCert: string;
  /** PEM of the server certificate (leaf only). */
  cert: string;
  /** PEM (PKCS#8) of the server certificate's private key. */
  key: string;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

x509.cryptoProvider.set(globalThis.crypto);

/**
 * Makes a CA and a serverAuth leaf for `localhost` and 127.0.0.1, plus `names`
 * (entries that parse as IP addresses become IP SANs, the rest DNS SANs).
 */
export async function createTestTls(names: string[] = []): Promise<TestTls> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + YEAR_MS);

  const caKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: 'CN=ztsh dev TLS CA',
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
    subject: 'CN=localhost',
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
      new x509.SubjectAlternativeNameExtension(subjectAltNames(names)),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const pkcs8 = await crypto.subtle.exportKey('pkcs8', leafKeys.privateKey);
  return {
    caCert: ca.toString('pem'),
    cert: leaf.toString('pem'),
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}

function subjectAltNames(extra: string[]): x509.JsonGeneralNames {
  const all = new Set(['localhost', '127.0.0.1', ...extra]);
  return [...all].map((name) => ({ type: isIP(name) ? 'ip' : 'dns', value: name }));
}

/** 128 random bits, top bit cleared so the DER INTEGER stays positive. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
