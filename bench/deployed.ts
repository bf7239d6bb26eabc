// The parts of a kube request's path, each in its own process as deployed
// (kubectl-parts.ts): the apiserver double, ztshd (auth + proxy in one, as
// ztshd runs by default), the agent joined with a token (and a second one,
// for another cluster, on the direct HTTP/2 tunnel), and the real
// `kubectl proxy` (Go's one-hop reverse proxy, the peer) in front of the
// same apiserver. alice is logged in; her certificate and key are returned
// for clients that present them. Used by the whole-command rows
// (kubectl-command.ts), the small-GET rows (kube-get.ts) and the exec stream
// and recording rows (run.ts), for which the apiserver's pod is given files.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, writeKubeconfig } from '@ztsh/testkit';
import { httpLogin } from '../test/helpers/http-login.ts';
import { ZTSHD } from '../test/helpers/source-bins.ts';
import type { AgentPartConfig, ApiserverPartConfig, PartQuestion, PartReady } from './kubectl-parts.ts';

const PARTS = fileURLToPath(new URL('./kubectl-parts.ts', import.meta.url));
export const SA_TOKEN = 'bench-service-account-token';

export interface Deployed {
  kubectl: string;
  dir: string;
  apiserver: Extract<PartReady, { part: 'apiserver' }> & { pid: number };
  ztshd: Extract<PartReady, { part: 'ztshd' }> & { pid: number; ask: Ask };
  agent: { pid: number };
  /** A second agent, for cluster `sandbox-direct` on the same apiserver, whose tunnel is HTTP/2 on the TLS socket (no WebSocket). */
  agentDirect: { pid: number };
  kubectlProxy: { url: string; pid: number };
  /** A kubeconfig straight to the apiserver with the service-account token (kubectl proxy's own). */
  directKubeconfig: string;
  /** alice's login, as `ztsh login` got it. */
  alice: Awaited<ReturnType<typeof httpLogin>>;
  close(): Promise<void>;
}

/** Asks a started part a question over IPC (kubectl-parts.ts `PartQuestion`) and waits for its answer. */
export type Ask = (question: PartQuestion) => Promise<unknown>;

export function startPart<T extends PartReady>(part: T['part'], config: object, children: ChildProcess[]): Promise<T & { pid: number; ask: Ask }> {
  // The parts run ztsh's built JavaScript (packages/*/dist, which `pnpm bench` builds first), as
  // the image does; only kubectl-parts.ts itself goes through tsx.
  // ZTSH_BENCH_CPU_PROF=<dir>: each part writes V8 CPU profiles into <dir>/<part>/ when it stops
  // (one per thread: the loader's worker has its own; the largest is the main thread's).
  const profile = process.env.ZTSH_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', join(process.env.ZTSH_BENCH_CPU_PROF, part)] : [];
  const child = fork(PARTS, [part, JSON.stringify(config)], { execArgv: ['--import', 'tsx', ...profile], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(child);
  const waiting = new Map<number, (answer: { result?: unknown; error?: string }) => void>();
  let asked = 0;
  const ask: Ask = (question) =>
    new Promise((resolve, reject) => {
      waiting.set(++asked, (a) => (a.error === undefined ? resolve(a.result) : reject(new Error(`bench part ${part}: ${a.error}`))));
      child.send({ ...question, id: asked });
    });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => {
      child.on('message', (a: { id: number; result?: unknown; error?: string }) => {
        waiting.get(a.id)?.(a);
        waiting.delete(a.id);
      });
      resolve({ ...(m as T), pid: child.pid!, ask });
    });
    child.once('exit', (code) => reject(new Error(`bench part ${part} exited (code ${code}) before it was ready`)));
  });
}

function startKubectlProxy(kubectl: string, kubeconfig: string, children: ChildProcess[]): Promise<{ url: string; pid: number }> {
  const child = spawn(kubectl, ['proxy', '--port=0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, pid: child.pid! });
    });
    child.once('exit', (code) => reject(new Error(`kubectl proxy exited (code ${code}): ${out}`)));
  });
}

export async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const child of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

export async function startDeployed(version = '1.33', apiserverConfig: Partial<ApiserverPartConfig> = {}): Promise<Deployed> {
  const kubectl = findKubectl(version, process.env.PATH);
  if (!kubectl) throw new Error(`kubectl.${version} not found beside the kubectl on PATH`);
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-deployed-'));
  const close = async () => {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const apiserver = await startPart<Extract<PartReady, { part: 'apiserver' }>>('apiserver', { ...apiserverConfig, saToken: SA_TOKEN } satisfies ApiserverPartConfig, children);
    const ztshd = await startPart<Extract<PartReady, { part: 'ztshd' }>>('ztshd', {}, children);
    const joinToken = (cluster: string) => {
      const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', cluster, '--data-dir', ztshd.dataDir, '--format', 'json'], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`ztshd tokens add: ${made.stderr}`);
      return (JSON.parse(made.stdout) as { token: string }).token;
    };
    const agentConfig = (cluster: string, transport: 'websocket' | 'direct'): AgentPartConfig => ({ proxy: ztshd.url, proxyCa: ztshd.tlsCa, token: joinToken(cluster), kubeUrl: apiserver.url, kubeCa: apiserver.caCert, saToken: SA_TOKEN, cluster, transport });
    const agent = await startPart<Extract<PartReady, { part: 'agent' }>>('agent', agentConfig('sandbox', 'websocket'), children);
    const agentDirect = await startPart<Extract<PartReady, { part: 'agent' }>>('agent', agentConfig('sandbox-direct', 'direct'), children);
    const alice = await httpLogin(new URL(ztshd.url), ztshd.tlsCa, DEV_USERS[0]!);
    const directKubeconfig = join(dir, 'direct.kubeconfig');
    await writeKubeconfig(directKubeconfig, { server: apiserver.url, caCert: apiserver.caCert, token: SA_TOKEN });
    const kubectlProxy = await startKubectlProxy(kubectl, directKubeconfig, children);
    return { kubectl, dir, apiserver, ztshd, agent: { pid: agent.pid }, agentDirect: { pid: agentDirect.pid }, kubectlProxy, directKubeconfig, alice, close };
  } catch (error) {
    await close();
    throw error;
  }
}
