// `ztsh kube credentials` answers through a fast path (credential-plugin/)
// that skips the full command line. Both must give the same answer, bytes
// and exit code, for every form the fast path takes; run from sources here
// (test/install.test.ts runs the built and installed one).
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock } from '@ztsh/auth';
import { ZtshHome } from '@ztsh/cli';
import type { Identity } from '@ztsh/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, type ZtshCommand } from './helpers/cli.ts';
import { SOURCE_NODE_ARGS, ZTSH } from './helpers/source-bins.ts';

const FULL_CLI: ZtshCommand = { command: process.execPath, args: [...SOURCE_NODE_ARGS, fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url))] };
const PROXY = new URL('https://access.example.com:8443');

const identity: Identity = {
  v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: ['developers'],
  traits: {}, mfaVerified: true, loginId: 'test', connector: 'dev', issuedForIp: '127.0.0.1',
};

async function certificate(notAfter: Date) {
  const ca = await loadOrCreateAuthority({ dir: mkdtempSync(join(tmpdir(), 'ztsh-ca-')), kind: 'user', clusterName: 'test', clock: systemClock });
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const issued = issueCertificate({ ca, publicKey: checkPublicKey(publicPem), identity, notBefore: new Date(notAfter.getTime() - 3_600_000), notAfter });
  return { certPem: issued.pem, keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function homeWith(pair: { certPem: string; keyPem: string } | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-home-'));
  if (!pair) return dir;
  const home = new ZtshHome(dir);
  home.writeProfile(PROXY, {
    meta: { proxy: PROXY.origin, user: 'alice', roles: ['developer'], kubernetesGroups: [], kubernetesUsers: [], mfaVerified: true, validUntil: '', loggedInAt: '' },
    ...pair,
    userCaPem: '',
    hostCaPem: '',
  });
  home.setCurrent(PROXY);
  return dir;
}

function run(nodeArgs: string[], args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [...nodeArgs, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let valid: { certPem: string; keyPem: string };
let expired: { certPem: string; keyPem: string };
beforeAll(async () => {
  valid = await certificate(new Date(Date.now() + 8 * 3_600_000));
  expired = await certificate(new Date(Date.now() - 60_000));
});

describe('ztsh kube credentials: the fast path answers as the full CLI does', () => {
  it('for a valid login, an expired one, none, and bad or missing --proxy, in each form the kubeconfig may hold', async () => {
    const homes = { valid: homeWith(valid), expired: homeWith(expired), none: homeWith(undefined) };
    const cmd = (...rest: string[]) => ['kube', 'credentials', ...rest];
    const cases: [keyof typeof homes, string[]][] = [
      ['valid', cmd('--proxy', PROXY.origin, '--cluster', 'sandbox')],
      ['valid', cmd('--cluster=sandbox', `--proxy=${PROXY.origin}`)],
      ['valid', cmd('--cluster', 'sandbox')],
      ['valid', cmd('--proxy', 'access.example.com:8443')],
      ['expired', cmd('--proxy', PROXY.origin, '--cluster', 'sandbox')],
      ['none', cmd('--cluster', 'sandbox')],
      ['none', cmd('--proxy', 'http://access.example.com')],
      ['none', cmd('--proxy', 'https://[not a host')],
      ['valid', cmd('--proxy', 'https://other.example.com')],
    ];
    const answers = await Promise.all(
      cases.map(async ([name, args]) => {
        const env = { ZTSH_HOME: homes[name] };
        const [fast, full] = await Promise.all([cli(args, env), cli(args, env, FULL_CLI)]);
        expect(fast, `${name}: ${args.join(' ')}`).toEqual(full);
        return `${fast.code}:${fast.stderr.split('\n')[0]}`;
      }),
    );
    // The cases above reach every answer: success, each error, each exit code.
    const seen = answers.join('\n');
    expect(seen).toMatch(/^0:$/m);
    expect(seen).toMatch(/^1:error: your ztsh certificate for access\.example\.com:8443 has expired: run ztsh login --proxy https:\/\/access\.example\.com:8443$/m);
    expect(seen).toMatch(/^1:error: not logged in to https:\/\/other\.example\.com: run ztsh login --proxy https:\/\/other\.example\.com$/m);
    expect(seen).toMatch(/^2:error: no proxy given and not logged in anywhere$/m);
    expect(seen).toMatch(/^2:error: the proxy must be https:\/\/, not http:$/m);
    expect(seen).toMatch(/^2:error: "https:\/\/\[not a host" is not a proxy address$/m);
  }, 240_000);

  it('prints the stored certificate and key, with the certificate\'s own expiry', () => {
    const home = homeWith(valid);
    const r = run(ZTSH, ['kube', 'credentials', '--proxy', PROXY.origin, '--cluster', 'sandbox'], { ZTSH_HOME: home, HOME: home });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: valid.certPem, clientKeyData: valid.keyPem, expirationTimestamp: new Date(new X509Certificate(valid.certPem).validTo).toISOString() },
    });
  });

  it('reads ZTSH_HOME, else ~/.ztsh, as the full CLI does', () => {
    const home = homeWith(valid);
    const user = mkdtempSync(join(tmpdir(), 'ztsh-user-'));
    renameSync(home, join(user, '.ztsh'));
    const args = ['kube', 'credentials', '--cluster', 'sandbox'];
    const fast = run(ZTSH, args, { HOME: user });
    expect(fast.code, fast.stderr).toBe(0);
    expect(fast).toEqual(run(FULL_CLI.args, args, { HOME: user }));
    // ZTSH_HOME wins over HOME.
    const elsewhere = run(ZTSH, args, { HOME: user, ZTSH_HOME: join(user, 'nothing-here') });
    expect(elsewhere.code).toBe(2);
  });

  it('says "not logged in" for a profile folder left without its key, and for a stale swap', () => {
    const home = homeWith(valid);
    const profile = new ZtshHome(home).profileDir(PROXY);
    rmSync(join(profile, 'key.pem'));
    const missingKey = run(ZTSH, ['kube', 'credentials'], { ZTSH_HOME: home, HOME: home });
    expect(missingKey.code).toBe(1);
    expect(missingKey.stderr).toMatch(/^error: not logged in to https:\/\/access\.example\.com:8443/);
    // A login killed between its two renames leaves only `<profile>.old-<pid>`: no endless wait.
    rmSync(profile, { recursive: true });
    mkdirSync(`${profile}.old-4242`);
    writeFileSync(join(`${profile}.old-4242`, 'key.pem'), valid.keyPem);
    const stale = run(ZTSH, ['kube', 'credentials'], { ZTSH_HOME: home, HOME: home });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^error: not logged in to/);
  });
});
