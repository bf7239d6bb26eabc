import { X509Certificate as NodeX509, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityFromCertificate, type Identity } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { loadOrCreateAuthority } from './authority.ts';
import { checkPublicKey, issueCertificate } from './issuer.ts';

const identity: Identity = {
  v: 1,
  user: 'alice',
  roles: ['developer'],
  kubernetesUsers: [],
  kubernetesGroups: ['developers', 'viewers'],
  traits: {},
  mfaVerified: true,
  mfaMethod: 'totp',
  loginId: 'l1',
  connector: 'dev',
  issuedForIp: '127.0.0.1',
};

function clientKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

describe('certificate authority', () => {
  const clock = new ManualClock(new Date('2026-11-23T10:00:00Z'));

  it('creates a CA once, key 0600, and loads the same one again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-ca-'));
    const a = await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock });
    expect(statSync(join(dir, 'user-ca.key')).mode & 0o777).toBe(0o600);
    const b = await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock });
    expect(b.certificate.serialNumber).toBe(a.certificate.serialNumber);
    expect(a.trustBundle).toHaveLength(1);
  });

  it('seals the key with a secret and refuses to start without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-ca-'));
    await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock, keySecret: 's3cret' });
    const stored = readFileSync(join(dir, 'user-ca.key'), 'utf8');
    expect(stored).not.toContain('PRIVATE KEY');
    await expect(loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock })).rejects.toThrow(/encrypted/);
    await expect(
      loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock, keySecret: 'wrong' }),
    ).rejects.toThrow(/cannot be decrypted/);
    await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock, keySecret: 's3cret' });
  });

  it('seals a plaintext key once a secret is configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-ca-'));
    await loadOrCreateAuthority({ dir, kind: 'host', clusterName: 'c', clock });
    expect(readFileSync(join(dir, 'host-ca.key'), 'utf8')).toContain('PRIVATE KEY');
    await loadOrCreateAuthority({ dir, kind: 'host', clusterName: 'c', clock, keySecret: 'k' });
    expect(readFileSync(join(dir, 'host-ca.key'), 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('refuses a half-present CA instead of silently making a new one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-ca-'));
    writeFileSync(join(dir, 'user-ca.crt'), 'x');
    await expect(loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock })).rejects.toThrow(/half present/);
  });

  it('issues a client certificate that chains to the CA and carries the Identity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-ca-'));
    const ca = await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'c', clock });
    const now = clock.now().getTime();
    const issued = issueCertificate({
      ca,
      publicKey: checkPublicKey(clientKey()),
      identity,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 8 * 3_600_000),
    });
    const cert = new NodeX509(issued.pem);
    expect(cert.verify(new NodeX509(ca.trustBundle[0]!).publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=alice\nO=developers\nO=viewers');
    expect(new Date(cert.validTo).getTime()).toBe(Math.floor((now + 8 * 3_600_000) / 1000) * 1000);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(issued.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(identityFromCertificate(new Uint8Array(cert.raw))).toEqual(identity);
    expect(identityFromCertificate(new Uint8Array(new NodeX509(ca.trustBundle[0]!).raw))).toBeNull();
  });

  it('rejects weak or malformed public keys, and private keys', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const secp384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => checkPublicKey(weak)).toThrow(/at least 2048/);
    expect(() => checkPublicKey(secp384)).toThrow(/P-256/);
    expect(() => checkPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')).toThrow(/not a valid/);
    const priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => checkPublicKey(priv)).toThrow(/public key/);
  });
});

describe('host certificates', () => {
  it('carry serverAuth and the names they serve, and dates past 2049 encode as GeneralizedTime', async () => {
    const clock = new ManualClock(new Date('2049-12-31T23:00:00Z'));
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-ca-'));
    const ca = await loadOrCreateAuthority({ dir, kind: 'host', clusterName: 'c', clock });
    const issued = issueCertificate({
      ca,
      publicKey: checkPublicKey(clientKey()),
      identity: { ...identity, user: 'agent-1', kubernetesGroups: [], host: { role: 'agent', cluster: 'prod' } },
      notBefore: clock.now(),
      notAfter: new Date('2050-01-02T00:00:00Z'),
      dnsNames: ['proxy.example.com', '127.0.0.1'],
    });
    const cert = new NodeX509(issued.pem);
    expect(cert.verify(new NodeX509(ca.trustBundle[0]!).publicKey)).toBe(true);
    expect(cert.subjectAltName).toMatch(/^URI:urn:ztsh:identity:v1:[\w-]+, DNS:proxy.example.com, IP Address:127.0.0.1$/);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1']);
    expect(new Date(cert.validTo).toISOString()).toBe('2050-01-02T00:00:00.000Z');
    expect(cert.checkHost('proxy.example.com')).toBe('proxy.example.com');
  });
});
