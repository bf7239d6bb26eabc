// toPkcs12() output is checked with the real `openssl pkcs12` (OpenSSL 3, no -legacy).
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTls, type TestTls } from '@ztsh/testkit';
import { toPkcs12, type P12Input } from './p12.ts';

// Non-ASCII on purpose: PBES2 takes the UTF-8 bytes, the MAC KDF a BMPString.
const PASS = 'corrëct horse € 🔑';

let tls: TestTls;
let dir: string;

beforeAll(async () => {
  tls = await createTestTls();
  dir = mkdtempSync(join(tmpdir(), 'ztsh-p12-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function input(over: Partial<P12Input> = {}): P12Input {
  return {
    certificatePem: tls.cert,
    privateKeyPem: tls.key,
    caCertificatePems: [tls.caCert],
    passphrase: PASS,
    friendlyName: 'alice@ztsh',
    ...over,
  };
}

function writeP12(der: Buffer): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.p12`);
  writeFileSync(file, der);
  return file;
}

function openssl(args: string[]) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const pemBlocks = (text: string, label: string): string[] =>
  text.match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----`, 'g')) ?? [];

const pkcs8Der = (pem: string): Buffer => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });

describe('toPkcs12', () => {
  it('produces a PFX that openssl opens with the passphrase: leaf, CA and the same key', () => {
    const file = writeP12(toPkcs12(input()));
    const r = openssl(['pkcs12', '-in', file, '-passin', `pass:${PASS}`, '-nodes', '-info']);
    expect(r.status, r.err).toBe(0);

    expect(r.err).toMatch(/MAC: sha256, Iteration \d+/);
    expect(r.err).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);

    const certs = pemBlocks(r.out, 'CERTIFICATE').map((pem) => new X509Certificate(pem).fingerprint256);
    expect(certs).toEqual([new X509Certificate(tls.cert).fingerprint256, new X509Certificate(tls.caCert).fingerprint256]);

    const keys = pemBlocks(r.out, 'PRIVATE KEY');
    expect(keys).toHaveLength(1);
    expect(pkcs8Der(keys[0]!).equals(pkcs8Der(tls.key))).toBe(true);

    // Bag attributes: friendlyName on leaf and key, a shared localKeyID, none on the CA.
    expect(r.out.match(/friendlyName: alice@ztsh/g)).toHaveLength(2);
    const ids = [...r.out.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it('works without CA certificates', () => {
    const r = openssl(['pkcs12', '-in', writeP12(toPkcs12(input({ caCertificatePems: [] }))), '-passin', `pass:${PASS}`, '-nodes']);
    expect(r.status, r.err).toBe(0);
    expect(pemBlocks(r.out, 'CERTIFICATE')).toHaveLength(1);
    expect(pemBlocks(r.out, 'PRIVATE KEY')).toHaveLength(1);
  });

  it("loads into Node's TLS stack as a pfx", () => {
    const pfx = toPkcs12(input());
    expect(() => createSecureContext({ pfx, passphrase: PASS })).not.toThrow();
    expect(() => createSecureContext({ pfx, passphrase: 'wrong' })).toThrow(/mac verify failure/i);
  });

  it('makes openssl fail MAC verification with a wrong passphrase', () => {
    const r = openssl(['pkcs12', '-in', writeP12(toPkcs12(input())), '-passin', 'pass:wrong', '-nodes']);
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/mac verify (error|failure)/i);
  });

  it('rejects a key that does not match the certificate', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => toPkcs12(input({ privateKeyPem: other }))).toThrow(/does not match the certificate/);
  });

  it('rejects an empty passphrase', () => {
    expect(() => toPkcs12(input({ passphrase: '' }))).toThrow('passphrase must not be empty');
  });

  it('rejects keys that are not unencrypted PKCS#8 PEM', () => {
    const sec1 = createPrivateKey(tls.key).export({ type: 'sec1', format: 'pem' }).toString();
    expect(() => toPkcs12(input({ privateKeyPem: sec1 }))).toThrow(/PKCS#8/);
    expect(() => toPkcs12(input({ privateKeyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }))).toThrow(/does not parse/);
  });
});
