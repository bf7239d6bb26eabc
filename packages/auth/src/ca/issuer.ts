// Certificate issuance: user certificates (kubectl's client certificate) and
// host certificates (agents, proxies). Only public keys come in; private keys
// never leave the machine that made them.
//
// What is fixed per CA (issuer name, signature algorithm, constraints, key
// usage, authority key id) is encoded once with @peculiar/asn1-x509 and
// cached; the per-certificate parts go through the small encoders in der.ts
// (see there why), and node:crypto signs. The Identity rides in the
// subjectAltName as a URI (see @ztsh/protocol identity.ts for why).
import { createPublicKey, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { identityUri, ZtshError, type Identity } from '@ztsh/protocol';
import { randomSerial, type CertAuthority } from './authority.ts';
import {
  derBitString,
  derExplicit,
  derOctetString,
  derSequence,
  derSet,
  derTime,
  derTlv,
  derUnsignedInteger,
  derUtf8String,
} from './der.ts';

export interface IssueRequest {
  ca: CertAuthority;
  /** DER SubjectPublicKeyInfo, already checked by checkPublicKey(). */
  publicKey: Buffer;
  identity: Identity;
  notBefore: Date;
  notAfter: Date;
  /** Host certificates: DNS names and IPs, which make it a serverAuth certificate too. */
  dnsNames?: string[];
}

export interface IssuedCertificate {
  pem: string;
  serial: string;
  notAfter: Date;
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const VERSION_3 = derExplicit(0, Buffer.of(0x02, 0x01, 0x02));
const OID_CN = Buffer.of(0x06, 0x03, 0x55, 0x04, 0x03);
const OID_O = Buffer.of(0x06, 0x03, 0x55, 0x04, 0x0a);
const SAN_OID = Buffer.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const SIGNATURE_ALGORITHM = encode(new asn.AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }));

/** Everything about the issuer that is the same for every certificate it signs, as DER. */
interface IssuerTemplate {
  issuerName: Buffer;
  userExtensions: Buffer;
  hostExtensions: Buffer;
}
const templates = new WeakMap<CertAuthority, IssuerTemplate>();

function encode(value: object): Buffer {
  return Buffer.from(AsnConvert.serialize(value));
}

function extension(oid: string, critical: boolean, value: object): Buffer {
  return encode(new asn.Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) }));
}

function templateFor(ca: CertAuthority): IssuerTemplate {
  let template = templates.get(ca);
  if (!template) {
    const caCert = AsnConvert.parse(ca.certificate.rawData, asn.Certificate);
    const skid = caCert.tbsCertificate.extensions?.find((e) => e.extnID === asn.id_ce_subjectKeyIdentifier);
    if (!skid) throw new Error(`${ca.kind} CA certificate has no subject key identifier`);
    const keyIdentifier = AsnConvert.parse(skid.extnValue, asn.SubjectKeyIdentifier);
    const common = Buffer.concat([
      extension(asn.id_ce_basicConstraints, true, new asn.BasicConstraints({ cA: false })),
      extension(asn.id_ce_keyUsage, true, new asn.KeyUsage(asn.KeyUsageFlags.digitalSignature)),
      extension(asn.id_ce_authorityKeyIdentifier, false, new asn.AuthorityKeyIdentifier({ keyIdentifier })),
    ]);
    template = {
      issuerName: encode(caCert.tbsCertificate.subject),
      userExtensions: Buffer.concat([common, extension(asn.id_ce_extKeyUsage, false, new asn.ExtendedKeyUsage([CLIENT_AUTH]))]),
      hostExtensions: Buffer.concat([
        common,
        extension(asn.id_ce_extKeyUsage, false, new asn.ExtendedKeyUsage([CLIENT_AUTH, SERVER_AUTH])),
      ]),
    };
    templates.set(ca, template);
  }
  return template;
}

/** Parses and checks a client's public key; returns it as DER SubjectPublicKeyInfo. */
export function checkPublicKey(pem: string): Buffer {
  // node:crypto would happily derive a public key from a private one: refuse
  // anything but a PUBLIC KEY block, so a confused client learns it at once.
  if (!/^\s*-----BEGIN PUBLIC KEY-----/.test(pem) || /PRIVATE KEY/.test(pem)) {
    throw new ZtshError('bad_request', 'publicKey must be a public key (PEM "PUBLIC KEY"); never send a private key');
  }
  let key;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new ZtshError('bad_request', 'publicKey is not a valid SPKI public key', { cause });
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  const ok =
    (type === 'ec' && details?.namedCurve === 'prime256v1') ||
    type === 'ed25519' ||
    (type === 'rsa' && (details?.modulusLength ?? 0) >= 2048);
  if (!ok) throw new ZtshError('bad_request', 'publicKey must be ECDSA P-256, Ed25519 or RSA of at least 2048 bits');
  return key.export({ type: 'spki', format: 'der' });
}

function attribute(oid: Buffer, value: string): Buffer {
  return derSet(derSequence(oid, derUtf8String(value)));
}

export function issueCertificate(request: IssueRequest): IssuedCertificate {
  const template = templateFor(request.ca);
  const { identity } = request;
  const subject = derSequence(
    attribute(OID_CN, identity.user),
    ...identity.kubernetesGroups.map((g) => attribute(OID_O, g)),
  );
  // subjectAltName: the Identity URI ([6]), then any DNS names ([2]) and IPs ([7]) of a host.
  const names: Buffer[] = [derTlv(0x86, Buffer.from(identityUri(identity), 'ascii'))];
  for (const n of request.dnsNames ?? []) {
    names.push(/^[\d.]+$|:/.test(n) ? encode(new asn.GeneralName({ iPAddress: n })) : derTlv(0x82, Buffer.from(n, 'ascii')));
  }
  const extensions: Buffer[] = [
    request.dnsNames ? template.hostExtensions : template.userExtensions,
    derSequence(SAN_OID, derOctetString(derSequence(...names))),
  ];
  const serial = randomSerial();
  const tbs = derSequence(
    VERSION_3,
    derUnsignedInteger(Buffer.from(serial, 'hex')),
    SIGNATURE_ALGORITHM,
    template.issuerName,
    derSequence(derTime(request.notBefore), derTime(request.notAfter)),
    subject,
    request.publicKey,
    derExplicit(3, derSequence(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: request.ca.signingKey, dsaEncoding: 'der' });
  const der = derSequence(tbs, SIGNATURE_ALGORITHM, derBitString(signature));
  return { pem: toPem(der), serial, notAfter: request.notAfter };
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
