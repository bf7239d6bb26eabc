import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSelfSignedTls } from './self-signed-tls.ts';
import { servingTls } from './tls.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

function dataDir() {
  return mkdtempSync(join(tmpdir(), 'ztsh-tls-'));
}

describe('servingTls', () => {
  it('makes a self-signed set once in data_dir/tls, key 0600, and reuses it', async () => {
    const dir = dataDir();
    const first = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'access.example.com' });
    expect(first.caFile).toBe(join(dir, 'tls', 'ca.crt'));
    expect(first.selfSignedCa).toBe(readFileSync(first.caFile!, 'utf8'));
    expect(statSync(join(dir, 'tls', 'server.key')).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(first.cert).checkHost('access.example.com')).toBe('access.example.com');
    const again = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'access.example.com' });
    expect(again.cert).toBe(first.cert);
  });

  it('makes a new set when the certificate has less than 30 days left', async () => {
    const dir = dataDir();
    const first = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'localhost' });
    const validTo = new Date(new X509Certificate(first.cert).validTo).getTime();
    const kept = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'localhost', now: () => new Date(validTo - 31 * DAY_MS) });
    expect(kept.cert).toBe(first.cert);
    const renewed = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'localhost', now: () => new Date(validTo - 29 * DAY_MS) });
    expect(renewed.cert).not.toBe(first.cert);
    expect(renewed.selfSignedCa).not.toBe(first.selfSignedCa);
  });

  it('makes a new set when the files do not belong together (a start cut short while writing them)', async () => {
    const dir = dataDir();
    const first = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'localhost' });
    writeFileSync(join(dir, 'tls', 'server.key'), (await createSelfSignedTls({ hostnames: [] })).key);
    const repaired = await servingTls({ baseDir: dir, dataDir: dir, hostname: 'localhost' });
    expect(repaired.cert).not.toBe(first.cert);
    expect(new X509Certificate(repaired.cert).checkIssued(new X509Certificate(repaired.selfSignedCa!))).toBe(true);
  });

  it("uses the operator's files as they are, naming the key when one cannot be read", async () => {
    const dir = dataDir();
    const made = await createSelfSignedTls({ hostnames: [] });
    writeFileSync(join(dir, 'c.pem'), made.cert);
    writeFileSync(join(dir, 'k.pem'), made.key);
    const tls = await servingTls({ files: { cert_file: 'c.pem', key_file: 'k.pem' }, baseDir: dir, dataDir: dir, hostname: 'x' });
    expect(tls).toEqual({ cert: made.cert, key: made.key });
    await expect(servingTls({ files: { cert_file: 'c.pem', key_file: 'nope.pem' }, baseDir: dir, dataDir: dir, hostname: 'x', key: 'proxy.tls' })).rejects.toThrow(/proxy\.tls\.key_file: cannot read/);
  });
});
