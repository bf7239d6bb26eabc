// PKCS#12 (.p12/.pfx) export of a user's client identity: private key + leaf
// certificate + CA certificates, password-protected, for browsers, macOS
// Keychain, Windows and `openssl pkcs12`.
//
// Why not forge.pkcs12.toPkcs12Asn1(): it only understands RSA keys, and
// forge.pki.certificateFromPem() throws "OID is not RSA" on our ECDSA P-256
// certificates. So the PFX (RFC 7292) is assembled here from node-forge's
// algorithm-agnostic primitives: generic ASN.1, encryptPrivateKeyInfo (PBES2)
// on the raw PKCS#8 structure, the PKCS#12 KDF and HMAC. Certificates and keys
// are only ever handled as DER bytes; node:crypto does the validation.
//
// Layout (same algorithms as OpenSSL 3's defaults, so no `-legacy` needed):
//   PFX { version 3,
//         authSafe: ContentInfo(data) -> AuthenticatedSafe [
//           ContentInfo(data) -> SafeContents [ certBag(leaf, attrs), certBag(CA)... ],
//           ContentInfo(data) -> SafeContents [ pkcs8ShroudedKeyBag(PBES2: PBKDF2-HMAC-SHA256,
//                                                                 AES-256-CBC, attrs) ] ],
//         macData: HMAC-SHA256, key from the PKCS#12 KDF (id 3) }
// attrs = { localKeyId: SHA-1(leaf DER), friendlyName: BMPString }.
import { X509Certificate, createHash, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

export interface P12Input {
  certificatePem: string;
  /** Unencrypted PKCS#8 ("-----BEGIN PRIVATE KEY-----") PEM matching certificatePem. */
  privateKeyPem: string;
  caCertificatePems: string[];
  passphrase: string;
  friendlyName: string;
}

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

/** PBKDF2 (key encryption) and PKCS#12 KDF (MAC) iteration count; both guard the same password. */
const ITERATIONS = 10_000;

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
};

/** Builds the PFX and returns its DER bytes. Throws on invalid or mismatched input. */
export function toPkcs12(input: P12Input): Buffer {
  if (!input.passphrase) throw new Error('passphrase must not be empty');
  const { key, keyInfo } = readPrivateKey(input.privateKeyPem);
  const leaf = readCertificate(input.certificatePem, 'certificate');
  if (!leaf.checkPrivateKey(key)) throw new Error('private key does not match the certificate public key');
  const cas = input.caCertificatePems.map((pem, i) => readCertificate(pem, `CA certificate #${i + 1}`));

  const attrs = bagAttributes(createHash('sha1').update(leaf.raw).digest(), input.friendlyName);
  const certBags = [certBag(leaf.raw, attrs), ...cas.map((ca) => certBag(ca.raw))];
  // PBES2 uses the password's bytes as given; forge strings are binary, so hand it UTF-8.
  const encryptedKey = forge.pki.encryptPrivateKeyInfo(keyInfo, forge.util.encodeUtf8(input.passphrase), {
    algorithm: 'aes256',
    count: ITERATIONS,
    prfAlgorithm: 'sha256',
    saltSize: 16,
  });
  const keyBag = seq([oid(OID.pkcs8ShroudedKeyBag), explicit0(encryptedKey), attrs]);

  const authSafe = seq([dataContentInfo(seq(certBags)), dataContentInfo(seq([keyBag]))]);
  const authSafeDer = asn1.toDer(authSafe).getBytes();

  const pfx = seq([
    int(3),
    dataContentInfo(authSafeDer),
    macData(authSafeDer, input.passphrase),
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}

/** Validates the PEM and returns the key plus its PrivateKeyInfo as generic (algorithm-agnostic) ASN.1. */
function readPrivateKey(pem: string): { key: KeyObject; keyInfo: Asn1 } {
  if (!/^-----BEGIN PRIVATE KEY-----\r?\n/m.test(pem)) {
    throw new Error('private key must be an unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----")');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`private key PEM does not parse: ${(err as Error).message}`);
  }
  const der = bin(key.export({ type: 'pkcs8', format: 'der' }));
  const keyInfo = asn1.fromDer(der, true);
  // encryptPrivateKeyInfo re-serialises the tree; make sure that is byte-exact.
  if (asn1.toDer(keyInfo).getBytes() !== der) throw new Error('private key DER does not round-trip through node-forge ASN.1');
  return { key, keyInfo };
}

function readCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new Error(`${what} PEM does not parse: ${(err as Error).message}`);
  }
}

/** MacData ::= SEQUENCE { DigestInfo(sha256, HMAC), macSalt, iterations } (RFC 7292 §4, App. B). */
function macData(authSafeDer: string, passphrase: string): Asn1 {
  const salt = bin(randomBytes(16));
  // The PKCS#12 KDF takes the password as a BMPString; forge encodes it from UTF-16 code units.
  const macKey = forge.pkcs12.generateKey(passphrase, forge.util.createBuffer(salt), 3, ITERATIONS, 32, forge.md.sha256.create());
  const hmac = forge.hmac.create();
  hmac.start('sha256', macKey.getBytes());
  hmac.update(authSafeDer);
  return seq([
    seq([seq([oid(OID.sha256), prim(asn1.Type.NULL, '')]), prim(asn1.Type.OCTETSTRING, hmac.digest().getBytes())]),
    prim(asn1.Type.OCTETSTRING, salt),
    int(ITERATIONS),
  ]);
}

/** SET OF Attribute: localKeyId (OCTET STRING) and friendlyName (BMPString). */
function bagAttributes(localKeyId: Buffer, friendlyName: string): Asn1 {
  const attr = (type: string, value: Asn1) => seq([oid(type), set([value])]);
  return set([
    attr(OID.localKeyId, prim(asn1.Type.OCTETSTRING, bin(localKeyId))),
    attr(OID.friendlyName, prim(asn1.Type.BMPSTRING, friendlyName)),
  ]);
}

/** SafeBag(certBag) holding the certificate DER as an x509Certificate OCTET STRING. */
function certBag(der: Buffer, attrs?: Asn1): Asn1 {
  const bag = seq([oid(OID.x509Certificate), explicit0(prim(asn1.Type.OCTETSTRING, bin(der)))]);
  return seq([oid(OID.certBag), explicit0(bag), ...(attrs ? [attrs] : [])]);
}

/** ContentInfo { contentType: data, content: [0] OCTET STRING(der) }. */
function dataContentInfo(content: Asn1 | string): Asn1 {
  const der = typeof content === 'string' ? content : asn1.toDer(content).getBytes();
  return seq([oid(OID.data), explicit0(prim(asn1.Type.OCTETSTRING, der))]);
}

// Tiny ASN.1 builders. forge represents bytes as binary ("latin1") strings.
const bin = (b: Buffer): string => b.toString('binary');
const prim = (type: forge.asn1.Type, value: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, type, false, value);
const seq = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const oid = (dotted: string): Asn1 => prim(asn1.Type.OID, asn1.oidToDer(dotted).getBytes());
const int = (n: number): Asn1 => prim(asn1.Type.INTEGER, asn1.integerToDer(n).getBytes());
const explicit0 = (inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
