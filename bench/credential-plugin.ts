// What kubectl pays for the exec credential plugin before each command: the
// built `ztsh kube credentials` (started by its path, as kubectl does) against
// a bare `node -e 0`, alternating, on a profile made with a real CA.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock } from '@ztsh/auth';
import { ZtshHome } from '@ztsh/cli';

const ZTSH = fileURLToPath(new URL('../packages/cli/bin/ztsh.js', import.meta.url));

export interface PluginTimes {
  pluginMs: number;
  nodeMs: number;
  runs: number;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const r = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function measureCredentialPlugin(runs = 30): Promise<PluginTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-plugin-'));
  const proxy = new URL('https://access.example.com');
  const ca = await loadOrCreateAuthority({ dir: join(dir, 'ca'), kind: 'user', clusterName: 'bench', clock: systemClock });
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const cert = issueCertificate({
    ca,
    publicKey: checkPublicKey(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    identity: { v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: ['developers'], traits: {}, mfaVerified: true, loginId: 'bench', connector: 'dev', issuedForIp: '127.0.0.1' },
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 8 * 3_600_000),
  });
  const home = new ZtshHome(join(dir, 'home'));
  home.writeProfile(proxy, {
    meta: { proxy: proxy.origin, user: 'alice', roles: ['developer'], kubernetesGroups: ['developers'], kubernetesUsers: [], mfaVerified: true, validUntil: cert.notAfter.toISOString(), loggedInAt: new Date(now).toISOString() },
    keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: cert.pem,
    userCaPem: '',
    hostCaPem: '',
  });
  const env = { PATH: process.env.PATH, ZTSH_HOME: home.dir };
  const plugin = () => timed(ZTSH, ['kube', 'credentials', '--proxy', proxy.origin, '--cluster', 'sandbox'], env);
  const bare = () => timed(process.execPath, ['-e', '0'], env);
  for (let i = 0; i < 3; i++) {
    plugin();
    bare();
  }
  const p: number[] = [];
  const n: number[] = [];
  for (let i = 0; i < runs; i++) {
    p.push(plugin());
    n.push(bare());
  }
  rmSync(dir, { recursive: true, force: true });
  return { pluginMs: median(p), nodeMs: median(n), runs };
}
