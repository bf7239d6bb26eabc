// What per-session MFA adds to kubectl's credential plugin: the built
// `ztsh kube credentials --session-mfa` presenting a cached session MFA
// certificate, against the plain plugin on the same profile, alternating;
// and the whole kubectl 1.33 command when no check is fresh and there is no
// terminal (kubectl starts the plugin several times before it gives up): the
// time until the user reads the refusal.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock } from '@ztsh/auth';
import { certificateSha256, writeSessionMfaCache, ZtshHome } from '@ztsh/cli';
import type { Identity } from '@ztsh/protocol';
import { findKubectl } from '@ztsh/testkit';

const ZTSH = fileURLToPath(new URL('../packages/cli/bin/ztsh.js', import.meta.url));

export interface SessionMfaPluginTimes {
  cachedMs: number;
  plainMs: number;
  /** kubectl 1.33 get pods, from start to its exit with the refusal; undefined without kubectl.1.33. */
  kubectlRefusalMs: number | undefined;
  runs: number;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv, expectFailure = false): number {
  const start = performance.now();
  const r = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - start;
  if ((r.status === 0) === expectFailure) throw new Error(`${command} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  if (expectFailure && !String(r.stderr).includes('ztsh kube mfa --clusters')) throw new Error(`not the session MFA refusal: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function measureSessionMfaPlugin(runs = 30): Promise<SessionMfaPluginTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-session-mfa-'));
  const proxy = new URL('https://access.example.com');
  const ca = await loadOrCreateAuthority({ dir: join(dir, 'ca'), kind: 'user', clusterName: 'bench', clock: systemClock });
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKey = checkPublicKey(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const now = Date.now();
  const identity: Identity = { v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: ['developers'], traits: {}, mfaVerified: true, loginId: 'bench', connector: 'dev', issuedForIp: '127.0.0.1' };
  const issue = (id: Identity, notAfter: number) => issueCertificate({ ca, publicKey, identity: id, notBefore: new Date(now - 60_000), notAfter: new Date(notAfter) });
  const login = issue(identity, now + 8 * 3_600_000);
  const clusters = ['prod-a', 'prod-b'];
  const session = issue({ ...identity, sessionMfa: { clusters, verifiedAt: now, method: 'totp' } }, now + 3_600_000);
  const home = new ZtshHome(join(dir, 'home'));
  home.writeProfile(proxy, {
    meta: { proxy: proxy.origin, user: 'alice', roles: ['developer'], kubernetesGroups: ['developers'], kubernetesUsers: [], mfaVerified: true, validUntil: login.notAfter.toISOString(), loggedInAt: new Date(now).toISOString() },
    keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: login.pem,
    userCaPem: '',
    hostCaPem: '',
  });
  writeSessionMfaCache(home, proxy, {
    proxy: proxy.origin,
    loginCertificateSha256: certificateSha256(login.pem),
    clusters,
    validUntil: session.notAfter.toISOString(),
    issuedAt: new Date(now).toISOString(),
    certificate: session.pem,
  });
  const env = { PATH: process.env.PATH, ZTSH_HOME: home.dir };
  const plain = () => timed(ZTSH, ['kube', 'credentials', '--proxy', proxy.origin, '--cluster', 'dev'], env);
  const cached = () => timed(ZTSH, ['kube', 'credentials', '--proxy', proxy.origin, '--cluster', 'prod-a', '--session-mfa'], env);
  for (let i = 0; i < 3; i++) {
    plain();
    cached();
  }
  const p: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < runs; i++) {
    p.push(plain());
    c.push(cached());
  }

  // A cluster the cached check does not cover, and kubectl without a terminal. Its server is
  // never reached: kubectl needs credentials first.
  let kubectlRefusalMs: number | undefined;
  const kubectl = findKubectl('1.33', process.env.PATH);
  if (kubectl) {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'prod-c', cluster: { server: 'https://127.0.0.1:9/k8s/prod-c' } }],
        users: [
          {
            name: 'prod-c',
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: ZTSH,
                args: ['kube', 'credentials', '--proxy', proxy.origin, '--cluster', 'prod-c', '--session-mfa'],
                env: [{ name: 'ZTSH_HOME', value: home.dir }],
                interactiveMode: 'IfAvailable',
                provideClusterInfo: false,
              },
            },
          },
        ],
        contexts: [{ name: 'prod-c', context: { cluster: 'prod-c', user: 'prod-c' } }],
        'current-context': 'prod-c',
      }),
    );
    const refusal = () => timed(kubectl, ['get', 'pods'], { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig }, true);
    refusal();
    kubectlRefusalMs = median(Array.from({ length: 5 }, refusal));
  }
  rmSync(dir, { recursive: true, force: true });
  return { cachedMs: median(c), plainMs: median(p), kubectlRefusalMs, runs };
}
