// The whole `kubectl get pods`, the time a user feels: the real kubectl 1.33
// against the apiserver double directly, through `kubectl proxy` (the real
// binary: Go's one-hop reverse proxy, the peer) and through ztsh with the
// kubeconfig `ztsh kube login` writes (the certificate file; no process
// started per command). Every part runs in its own process as deployed
// (kubectl-parts.ts): the apiserver double, ztshd, the agent, kubectl proxy;
// this process only starts kubectl, one run at a time, alternating the three.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, writeKubeconfig } from '@ztsh/testkit';
import { httpLogin } from '../test/helpers/http-login.ts';
import { storeLogin } from '../test/helpers/profile.ts';
import { ZTSH, ZTSHD } from '../test/helpers/source-bins.ts';
import type { AgentPartConfig, PartReady } from './kubectl-parts.ts';

const PARTS = fileURLToPath(new URL('./kubectl-parts.ts', import.meta.url));
const SA_TOKEN = 'bench-service-account-token';

export interface KubectlCommandTimes {
  directMs: number;
  kubectlProxyMs: number;
  ztshMs: number;
  runs: number;
  version: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function startPart<T extends PartReady>(part: T['part'], config: object, children: ChildProcess[]): Promise<T> {
  const child = fork(PARTS, [part, JSON.stringify(config)], { execArgv: ['--conditions=source', '--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`bench part ${part} exited (code ${code}) before it was ready`)));
  });
}

function startKubectlProxy(kubectl: string, kubeconfig: string, children: ChildProcess[]): Promise<number> {
  const child = spawn(kubectl, ['proxy', '--port=0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`kubectl proxy exited (code ${code}): ${out}`)));
  });
}

function timedGetPods(kubectl: string, env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const r = spawnSync(kubectl, ['get', 'pods'], { env, encoding: 'utf8' });
  const ms = performance.now() - start;
  if (r.status !== 0 || !r.stdout.includes('web-1')) throw new Error(`kubectl get pods (KUBECONFIG=${env.KUBECONFIG}) exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function measureKubectlCommand(runs = 20, version = '1.33'): Promise<KubectlCommandTimes> {
  const kubectl = findKubectl(version, process.env.PATH);
  if (!kubectl) throw new Error(`kubectl.${version} not found beside the kubectl on PATH`);
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-kubectl-cmd-'));
  try {
    const apiserver = await startPart<Extract<PartReady, { part: 'apiserver' }>>('apiserver', { saToken: SA_TOKEN }, children);
    const ztshd = await startPart<Extract<PartReady, { part: 'ztshd' }>>('ztshd', {}, children);
    const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', 'sandbox', '--data-dir', ztshd.dataDir, '--format', 'json'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`ztshd tokens add: ${made.stderr}`);
    const agent: AgentPartConfig = { proxy: ztshd.url, proxyCa: ztshd.tlsCa, token: (JSON.parse(made.stdout) as { token: string }).token, kubeUrl: apiserver.url, kubeCa: apiserver.caCert, saToken: SA_TOKEN };
    await startPart('agent', agent, children);

    // Three kubeconfigs, each with its own discovery cache under the same HOME.
    const home = join(dir, 'home');
    const proxyUrl = new URL(ztshd.url);
    storeLogin(home, proxyUrl, ztshd.tlsCa, await httpLogin(proxyUrl, ztshd.tlsCa, DEV_USERS[0]!));
    const base = { PATH: process.env.PATH, HOME: home };
    const viaZtsh = { ...base, KUBECONFIG: join(dir, 'ztsh.kubeconfig') };
    const loggedIn = spawnSync(process.execPath, [...ZTSH, 'kube', 'login', 'sandbox'], { env: { ...viaZtsh, ZTSH_HOME: home }, encoding: 'utf8' });
    if (loggedIn.status !== 0) throw new Error(`ztsh kube login: ${loggedIn.stderr}`);
    const direct = { ...base, KUBECONFIG: join(dir, 'direct.kubeconfig') };
    await writeKubeconfig(direct.KUBECONFIG, { server: apiserver.url, caCert: apiserver.caCert, token: SA_TOKEN });
    const port = await startKubectlProxy(kubectl, direct.KUBECONFIG, children);
    const viaKubectlProxy = { ...base, KUBECONFIG: join(dir, 'kubectl-proxy.kubeconfig') };
    writeFileSync(
      viaKubectlProxy.KUBECONFIG,
      JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'p', cluster: { server: `http://127.0.0.1:${port}` } }], users: [{ name: 'p', user: {} }], contexts: [{ name: 'p', context: { cluster: 'p', user: 'p', namespace: 'default' } }], 'current-context': 'p' }),
    );

    const targets = [direct, viaKubectlProxy, viaZtsh];
    for (let i = 0; i < 3; i++) for (const env of targets) timedGetPods(kubectl, env);
    const times: number[][] = targets.map(() => []);
    for (let i = 0; i < runs; i++) targets.forEach((env, t) => times[t]!.push(timedGetPods(kubectl, env)));
    return { directMs: median(times[0]!), kubectlProxyMs: median(times[1]!), ztshMs: median(times[2]!), runs, version };
  } finally {
    for (const child of children.reverse()) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
