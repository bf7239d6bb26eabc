// `ztsh kube credentials --session-mfa` with a session MFA certificate
// cached or not, without a server: what kubectl gets for a cluster the cache
// covers, and the one-line refusal, at once, when nothing covers it and
// there is no terminal. The fast path and the full CLI answer alike. (The
// whole flow with kubectl on a terminal: test/session-mfa-kubectl.test.ts.)
import { spawn } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock } from '@ztsh/auth';
import { certificateSha256, SESSION_MFA_MARGIN_MS, writeSessionMfaCache, ZtshHome } from '@ztsh/cli';
import type { Identity } from '@ztsh/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, type ZtshCommand } from './helpers/cli.ts';
import { SOURCE_NODE_ARGS, ZTSH } from './helpers/source-bins.ts';

const FULL_CLI: ZtshCommand = { command: process.execPath, args: [...SOURCE_NODE_ARGS, fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url))] };
const PROXY = new URL('https://access.example.com:8443');
const HOUR = 3_600_000;

const identity: Identity = {
  v: 1, user: 'alice', roles: ['developer', 'prod'], kubernetesUsers: [], kubernetesGroups: ['developers'],
  traits: {}, mfaVerified: true, loginId: 'test', connector: 'dev', issuedForIp: '127.0.0.1',
};

let ca: Awaited<ReturnType<typeof loadOrCreateAuthority>>;
beforeAll(async () => {
  ca = await loadOrCreateAuthority({ dir: mkdtempSync(join(tmpdir(), 'ztsh-ca-')), kind: 'user', clusterName: 'test', clock: systemClock });
});

function issue(publicKeyPem: string, notAfter: number, extra: Partial<Identity> = {}) {
  return issueCertificate({ ca, publicKey: checkPublicKey(publicKeyPem), identity: { ...identity, ...extra }, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(notAfter) }).pem;
}

/** A logged-in home and a session certificate for its key; `cache` writes it as ztsh kube mfa does. */
function loggedIn() {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certPem = issue(publicPem, Date.now() + 8 * HOUR);
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-home-'));
  const home = new ZtshHome(dir);
  home.writeProfile(PROXY, {
    meta: { proxy: PROXY.origin, user: 'alice', roles: identity.roles, kubernetesGroups: [], kubernetesUsers: [], mfaVerified: true, validUntil: '', loggedInAt: '' },
    keyPem, certPem, userCaPem: '', hostCaPem: '',
  });
  home.setCurrent(PROXY);
  const cache = (options: { clusters?: string[]; until?: number; loginCertPem?: string } = {}) => {
    const until = options.until ?? Date.now() + HOUR;
    const clusters = options.clusters ?? ['prod-a', 'prod-b'];
    const certificate = issue(publicPem, until, { sessionMfa: { clusters, verifiedAt: Date.now(), method: 'totp' } });
    writeSessionMfaCache(home, PROXY, {
      proxy: PROXY.origin,
      loginCertificateSha256: certificateSha256(options.loginCertPem ?? certPem),
      clusters,
      validUntil: new Date(until).toISOString(),
      issuedAt: new Date().toISOString(),
      certificate,
    });
    return certificate;
  };
  return { dir, home, keyPem, certPem, publicPem, cache, env: { ZTSH_HOME: dir, HOME: dir } };
}

const creds = (cluster: string | undefined, ...more: string[]) => ['kube', 'credentials', '--proxy', PROXY.origin, ...(cluster ? ['--cluster', cluster] : []), ...more];
const mfa = (cluster: string) => creds(cluster, '--session-mfa');
const parsed = (stdout: string) => (JSON.parse(stdout) as { status: { clientCertificateData: string; clientKeyData: string; expirationTimestamp: string } }).status;

/** The plugin as kubectl starts it, with a stdin that stays open and silent: a plugin that read it would never end. */
function asKubectlWould(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [...ZTSH, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('ztsh kube credentials --session-mfa', () => {
  it('hands kubectl the cached session certificate for a covered cluster, with the profile\'s key, until the margin before its end', async () => {
    const h = loggedIn();
    const until = Date.now() + HOUR;
    const certificate = h.cache({ until });
    for (const cluster of ['prod-a', 'prod-b']) {
      const [fast, full] = await Promise.all([cli(mfa(cluster), h.env), cli(mfa(cluster), h.env, FULL_CLI)]);
      expect(fast).toEqual(full);
      expect(fast.code, fast.stderr).toBe(0);
      const status = parsed(fast.stdout);
      expect(status.clientCertificateData).toBe(certificate);
      expect(status.clientKeyData).toBe(h.keyPem);
      const notAfter = new Date(new X509Certificate(certificate).validTo).getTime();
      expect(Date.parse(status.expirationTimestamp)).toBe(Math.min(notAfter, until) - SESSION_MFA_MARGIN_MS);
    }
    // Without the flag (a cluster that does not require it): the login's own certificate, cache or not.
    const plain = await cli(creds('dev'), h.env);
    expect(parsed(plain.stdout).clientCertificateData).toBe(h.certPem);
  }, 120_000);

  it('refuses in one line, without waiting for input, when nothing fresh covers the cluster and kubectl passed no terminal', async () => {
    const notInteractive = { KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: false } }) };
    const none = loggedIn();
    const otherCluster = loggedIn();
    otherCluster.cache({ clusters: ['prod-b'] });
    const ending = loggedIn();
    ending.cache({ until: Date.now() + SESSION_MFA_MARGIN_MS - 5_000 });
    const ended = loggedIn();
    ended.cache({ until: Date.now() - 1_000 });
    // A new login (here: another certificate for the same key) makes the cached one stale.
    const relogged = loggedIn();
    relogged.cache({ loginCertPem: issue(relogged.publicPem, Date.now() + 4 * HOUR) });
    for (const [name, h] of Object.entries({ none, otherCluster, ending, ended, relogged })) {
      for (const env of [h.env, { ...h.env, ...notInteractive }]) {
        const [fast, full] = await Promise.all([asKubectlWould(mfa('prod-a'), env), cli(mfa('prod-a'), env, FULL_CLI)]);
        expect(fast, name).toEqual(full);
        expect(fast.code, name).toBe(1);
        expect(fast.stdout).toBe('');
        expect(fast.stderr, name).toBe(
          'error: cluster "prod-a" needs a fresh second factor (session MFA) and there is no terminal to ask on: ' +
            'run "ztsh kube mfa --clusters prod-a" in a terminal first, then run this again\n',
        );
      }
    }
  }, 240_000);

  it('needs --cluster, and still says "run ztsh login" first when the login has ended', async () => {
    const h = loggedIn();
    h.cache();
    const [fast, full] = await Promise.all([cli(creds(undefined, '--session-mfa'), h.env), cli(creds(undefined, '--session-mfa'), h.env, FULL_CLI)]);
    expect(fast).toEqual(full);
    expect(fast.code).toBe(2);
    expect(fast.stderr).toMatch(/^error: --session-mfa needs --cluster/);
    const empty = mkdtempSync(join(tmpdir(), 'ztsh-home-'));
    const out = await cli(mfa('prod-a'), { ZTSH_HOME: empty, HOME: empty });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: not logged in to https:\/\/access\.example\.com:8443: run ztsh login/);
  }, 120_000);

  it('keeps the cache 0600, and ztsh logout removes it with the profile', async () => {
    const h = loggedIn();
    h.cache();
    const file = h.home.sessionMfaFile(PROXY);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(h.dir, 'session-mfa')).mode & 0o777).toBe(0o700);
    const out = await cli(['logout', '--proxy', PROXY.origin], h.env);
    expect(out.code, out.stderr).toBe(0);
    expect(existsSync(file)).toBe(false);
  }, 60_000);
});
