// Small GETs (one pod) the way ztsh is deployed: the apiserver double,
// ztshd, the agent, the real `kubectl proxy` and the load generator
// (get-load.ts) each in a process of its own (deployed.ts). Four paths, in
// the same run, alternating: direct to the apiserver (HTTP/2, bearer
// token), through `kubectl proxy` (HTTP/1.1 keep-alive in, Go's one hop)
// and through ztsh (HTTP/2 with alice's certificate, as kubectl speaks to
// it), once over the agent's WebSocket tunnel (its default) and once over
// the direct HTTP/2 tunnel. At concurrency 64: requests per second, and the CPU each proxy
// process spent per request, from utime + stime in /proc/<pid>/stat around
// the measured window. At concurrency 1: the median time a request takes,
// and again the CPU per request of each process, which at that rate is
// several times what it is under load.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SA_TOKEN, startDeployed } from './deployed.ts';
import type { LoadResult, LoadRun, LoadTarget } from './get-load.ts';

const LOAD = fileURLToPath(new URL('./get-load.ts', import.meta.url));
const POD = '/api/v1/namespaces/default/pods/web-1';

export type Path = 'direct' | 'kubectl proxy' | 'ztsh' | 'ztsh, direct tunnel';

export interface PathFigures {
  /** Median over the rounds, at concurrency 64. */
  requestsPerSecond: number;
  /** CPU µs per request at concurrency 64, per process (median over the rounds). */
  cpuUsPerRequest: Record<string, number>;
  /** The same at concurrency 1: what one request costs each process when it is alone, the cost its latency is made of. */
  cpuUsPerRequestAlone: Record<string, number>;
  /** Median over the rounds of each round's p50 / p99 at concurrency 1. */
  p50Ms: number;
  p99Ms: number;
}

export interface KubeGetFigures {
  rounds: number;
  paths: Record<Path, PathFigures>;
}

const ticksPerSecond = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout.trim()) || 100;
})();

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields are counted after its last ')'. Field 3 (state) comes first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / ticksPerSecond;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medians = (byName: Record<string, number[]>) => Object.fromEntries(Object.entries(byName).map(([n, xs]) => [n, median(xs)]));

export async function measureKubeGet(opts: { rounds?: number; seconds?: number; say?: (text: string) => void } = {}): Promise<KubeGetFigures> {
  const rounds = opts.rounds ?? 3;
  const seconds = opts.seconds ?? 2;
  const d = await startDeployed();
  let load: ChildProcess | undefined;
  try {
    const targets: LoadTarget[] = [
      { name: 'direct', protocol: 'h2', origin: d.apiserver.url, path: POD, headers: { authorization: `Bearer ${SA_TOKEN}` }, ca: d.apiserver.caCert },
      { name: 'kubectl proxy', protocol: 'http/1.1', origin: d.kubectlProxy.url, path: POD },
      { name: 'ztsh', protocol: 'h2', origin: d.ztshd.url, path: `/k8s/sandbox${POD}`, ca: d.ztshd.tlsCa, cert: d.alice.json.certificate as string, key: d.alice.keys.privateKey },
      { name: 'ztsh, direct tunnel', protocol: 'h2', origin: d.ztshd.url, path: `/k8s/sandbox-direct${POD}`, ca: d.ztshd.tlsCa, cert: d.alice.json.certificate as string, key: d.alice.keys.privateKey },
    ];
    load = fork(LOAD, [JSON.stringify(targets)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const child = load;
    const next = () =>
      new Promise<unknown>((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`the load generator exited (code ${code})`));
        child.once('exit', onExit);
        child.once('message', (m) => {
          child.off('exit', onExit);
          resolve(m);
        });
      });
    await next();
    const send = async (run: LoadRun) => {
      const answer = next();
      child.send(run);
      return (await answer) as LoadResult;
    };
    const processes: Record<Path, Record<string, number>> = {
      direct: { apiserver: d.apiserver.pid },
      'kubectl proxy': { 'kubectl proxy': d.kubectlProxy.pid, apiserver: d.apiserver.pid },
      ztsh: { ztshd: d.ztshd.pid, agent: d.agent.pid, apiserver: d.apiserver.pid },
      'ztsh, direct tunnel': { ztshd: d.ztshd.pid, agent: d.agentDirect.pid, apiserver: d.apiserver.pid },
    };
    const seen: Record<Path, { rps: number[]; cpu: Record<string, number[]>; cpuAlone: Record<string, number[]>; p50: number[]; p99: number[] }> = {
      direct: { rps: [], cpu: {}, cpuAlone: {}, p50: [], p99: [] },
      'kubectl proxy': { rps: [], cpu: {}, cpuAlone: {}, p50: [], p99: [] },
      ztsh: { rps: [], cpu: {}, cpuAlone: {}, p50: [], p99: [] },
      'ztsh, direct tunnel': { rps: [], cpu: {}, cpuAlone: {}, p50: [], p99: [] },
    };
    const cpuNow = (path: Path) => Object.fromEntries(Object.entries(processes[path]).map(([name, pid]) => [name, cpuSeconds(pid)]));
    const cpuSince = (path: Path, before: Record<string, number>, requests: number, into: Record<string, number[]>) => {
      for (const [name, pid] of Object.entries(processes[path])) (into[name] ??= []).push(((cpuSeconds(pid) - before[name]!) * 1e6) / requests);
    };
    const paths = Object.keys(processes) as Path[];
    for (const path of paths) await send({ target: path, concurrency: 64, seconds: 1 }); // warm-up: connections, JIT
    for (let round = 0; round < rounds; round++) {
      for (const path of paths) {
        const s = seen[path];
        const before = cpuNow(path);
        const r = await send({ target: path, concurrency: 64, seconds });
        s.rps.push(r.requests / r.seconds);
        cpuSince(path, before, r.requests, s.cpu);
        const beforeOne = cpuNow(path);
        const one = await send({ target: path, concurrency: 1, seconds: seconds / 2 });
        cpuSince(path, beforeOne, one.requests, s.cpuAlone);
        s.p50.push(one.p50Ms!);
        s.p99.push(one.p99Ms!);
      }
      opts.say?.(`  round ${round + 1}/${rounds}: ${paths.map((p) => `${p} ${seen[p].rps.at(-1)!.toFixed(0)} req/s, p50 ${seen[p].p50.at(-1)!.toFixed(2)} ms`).join('; ')}\n`);
    }
    const figures = Object.fromEntries(
      paths.map((p) => [p, { requestsPerSecond: median(seen[p].rps), cpuUsPerRequest: medians(seen[p].cpu), cpuUsPerRequestAlone: medians(seen[p].cpuAlone), p50Ms: median(seen[p].p50), p99Ms: median(seen[p].p99) }]),
    ) as Record<Path, PathFigures>;
    return { rounds, paths: figures };
  } finally {
    if (load && load.exitCode === null) {
      const exited = new Promise((resolve) => load!.once('exit', resolve));
      load.kill('SIGTERM');
      await exited;
    }
    await d.close();
  }
}
