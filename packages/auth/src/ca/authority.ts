// A certificate authority on disk: `<dir>/<kind>-ca.crt` holds the trust
// bundle (every CA certificate still trusted, the active one first) and
// `<dir>/<kind>-ca.key` the active private key, mode 0600, optionally sealed
// with an operator secret. Created on first start. Where the store keeps CA
// pairs (PostgreSQL), the same two texts live there instead, so every replica
// signs with one CA: the first replica to store its pair wins.
import { createPrivateKey, KeyObject, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ZtshError } from '@ztsh/protocol';
import type { Clock } from '../clock.ts';
import type { AuthorityStore } from '../storage/storage.ts';
import { isEnvelope, openKey, sealKey } from './key-envelope.ts';


export type CaKind = 'user' | 'host';

export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface CertAuthority {
  kind: CaKind;
  /** The active CA certificate. */
  certificate: x509.X509Certificate;
  /** Every trusted CA certificate as PEM, the active one first. */
  trustBundle: string[];
  /** The CA's private key; signs with node:crypto, the fastest path here. */
  signingKey: KeyObject;
}

export interface AuthorityOptions {
  dir: string;
  kind: CaKind;
  clusterName: string;
  clock: Clock;
  /** Secret that seals the private key at rest; absent means plaintext 0600. */
  keySecret?: string | undefined;
  onEvent?: (message: string) => void;
  /** Where the store keeps CA pairs: they come from there, not from `dir`. */
  store?: AuthorityStore | null | undefined;
}

const CA_VALIDITY_MS = 10 * 365 * 24 * 3_600_000;

export async function loadOrCreateAuthority(options: AuthorityOptions): Promise<CertAuthority> {
  if (options.store) return loadOrCreateStored(options, options.store);
  const certPath = join(options.dir, `${options.kind}-ca.crt`);
  const keyPath = join(options.dir, `${options.kind}-ca.key`);
  if (existsSync(certPath) && existsSync(keyPath)) return loadAuthority(options, certPath, keyPath);
  if (existsSync(certPath) !== existsSync(keyPath)) {
    throw new ZtshError('invalid_config', `${options.kind} CA is half present in ${options.dir}`, {
      hint: `restore both ${options.kind}-ca.crt and ${options.kind}-ca.key from backup`,
    });
  }
  return createAuthority(options, certPath, keyPath);
}

/** A new self-signed CA: its certificate and its private key, both PEM (the key not sealed). */
async function generatePair(options: AuthorityOptions): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = options.clock.now().getTime();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
    name: [{ CN: [`ztsh ${options.kind} CA`] }, { O: [options.clusterName] }],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_VALIDITY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
    },
    webcrypto as unknown as Crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: certificate.toString('pem') + '\n', keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

async function createAuthority(options: AuthorityOptions, certPath: string, keyPath: string): Promise<CertAuthority> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = await generatePair(options);
  writePrivate(keyPath, options.keySecret ? sealKey(keyPem, options.keySecret) : keyPem);
  writeFileSync(certPath, certPem, { mode: 0o644 });
  options.onEvent?.(`created ${options.kind} CA`);
  return fromPems(options, certPem, keyPem, certPath, keyPath);
}

/** The pair the store keeps, created (sealed like the files) if there is none; of replicas racing, the first stored wins. */
async function loadOrCreateStored(options: AuthorityOptions, store: AuthorityStore): Promise<CertAuthority> {
  const where = `the store's ${options.kind} CA`;
  let stored = await store.load(options.kind);
  if (!stored) {
    const mine = await generatePair(options);
    stored = await store.createIfAbsent(options.kind, { certPem: mine.certPem, keyPem: options.keySecret ? sealKey(mine.keyPem, options.keySecret) : mine.keyPem });
    options.onEvent?.(stored.certPem === mine.certPem ? `created ${options.kind} CA in the store` : `${options.kind} CA was created by another replica first: using it`);
  }
  return fromPems(options, stored.certPem, openStoredKey(options, stored.keyPem), where, where);
}

/** A stored key as PEM: opened with the key secret when it is sealed. */
function openStoredKey(options: AuthorityOptions, stored: string): string {
  if (!isEnvelope(stored)) return stored;
  if (!options.keySecret) {
    throw new ZtshError('invalid_config', `${options.kind} CA key is encrypted but no key secret was given`, {
      hint: 'set auth.ca_key_secret (file or env) in the config',
    });
  }
  try {
    return openKey(stored, options.keySecret);
  } catch (cause) {
    throw new ZtshError('invalid_config', `${options.kind} CA key cannot be decrypted with the given secret`, {
      cause,
      hint: 'check auth.ca_key_secret',
    });
  }
}

async function loadAuthority(options: AuthorityOptions, certPath: string, keyPath: string): Promise<CertAuthority> {
  const stored = readFileSync(keyPath, 'utf8');
  const keyPem = openStoredKey(options, stored);
  if (!isEnvelope(stored) && options.keySecret) {
    // Seal a key that was stored before encryption was configured.
    writePrivate(keyPath, sealKey(keyPem, options.keySecret));
    options.onEvent?.(`sealed ${options.kind} CA key at rest`);
  }
  return fromPems(options, readFileSync(certPath, 'utf8'), keyPem, certPath, keyPath);
}

/** The authority from its trust bundle (PEM, the active certificate first) and its key (PEM); `certFrom`/`keyFrom` name where they came from. */
function fromPems(options: AuthorityOptions, bundlePem: string, keyPem: string, certFrom: string, keyFrom: string): CertAuthority {
  const trustBundle = x509.PemConverter.decodeWithHeaders(bundlePem)
    .filter((p) => p.type === 'CERTIFICATE')
    .map((p) => x509.PemConverter.encode(p.rawData, 'CERTIFICATE'));
  const active = trustBundle[0];
  if (!active) throw new ZtshError('invalid_config', `${certFrom} holds no certificate`);
  let signingKey: KeyObject;
  try {
    signingKey = createPrivateKey(keyPem);
  } catch (cause) {
    throw new ZtshError('invalid_config', `${keyFrom} is not a readable private key`, { cause });
  }
  return { kind: options.kind, certificate: new x509.X509Certificate(active), trustBundle, signingKey };
}

function writePrivate(path: string, content: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** 128 random bits as a positive DER INTEGER, hex. */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  if (bytes[0] === 0) bytes[0] = 0x01;
  return Buffer.from(bytes).toString('hex');
}
