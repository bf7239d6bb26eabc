// Small GETs (one pod) through haproxy in front of one ztshd replica, then
// in front of two (replicas.ts: each replica its own process, one
// PostgreSQL database, the agent holding a tunnel to each, the apiserver
// double and the load generator in processes of their own). The load
// generator (get-load.ts) speaks as several kubectl users would: HTTP/2
// with alice's certificate over 8 connections, 64 requests in flight, so
// haproxy has connections to spread. Rounds alternate one and two replicas
// (haproxy's backends are changed between runs); medians of the rounds.
// Besides requests per second: the CPU each part spent per request, and how
// busy the whole machine was, since every part shares its cores.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './kube-get.ts';
import type { LoadResult, LoadRun, LoadTarget } from './get-load.ts';
import { startReplicas } from './replicas.ts';

const LOAD = fileURLToPath(new URL('./get-load.ts', import.meta.url));
const POD = '/api/v1/namespaces/default/pods/web-1';
const CONNECTIONS = 8;
const CONCURRENCY = 64;

export type Layout = '1 replica' | '2 replicas';

export interface LayoutFigures {
  /** Median over the rounds. */
  requestsPerSecond: number;
  /** CPU µs per request, per process (median over the rounds). */
  cpuUsPerRequest: Record<string, number>;
  /** Share of all cores busy (anything on the machine) during the runs, median. */
  machineBusy: number;
  /** Failed requests in all rounds together (connections cut when haproxy marked a replica down). */
  errors: number;
  firstError?: string;
}

export interface ReplicaGetFigures {
  rounds: number;
  seconds: number;
  cores: number;
  layouts: Record<Layout, LayoutFigures>;
}

/** Busy and total jiffies of all cores together, from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function measureReplicaGet(opts: { rounds?: number; seconds?: number; say?: (text: string) => void } = {}): Promise<ReplicaGetFigures> {
  const rounds = opts.rounds ?? 3;
  const seconds = opts.seconds ?? 3;
  const r = await startReplicas(2, opts.say);
  const [r1, r2] = r.replicas as [(typeof r.replicas)[0], (typeof r.replicas)[0]];
  let load: ChildProcess | undefined;
  try {
    const target: LoadTarget = {
      name: 'front',
      protocol: 'h2',
      origin: `https://127.0.0.1:${r.front.port}`,
      servername: 'localhost',
      path: `/k8s/sandbox${POD}`,
      ca: r.caCert,
      cert: r.alice.cert,
      key: r.alice.key,
      connections: CONNECTIONS,
      countErrors: true,
    };
    load = fork(LOAD, [JSON.stringify([target])], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    const backends: Record<Layout, typeof r1.backend[]> = { '1 replica': [r1.backend], '2 replicas': [r1.backend, r2.backend] };
    const processes: Record<string, number> = { 'replica 1': r1.pid, 'replica 2': r2.pid, agent: r.agent.pid, apiserver: r.apiserver.pid, haproxy: r.front.pid, 'load generator': load.pid! };
    const layouts = Object.keys(backends) as Layout[];
    const seen = Object.fromEntries(layouts.map((l) => [l, { rps: [] as number[], cpu: {} as Record<string, number[]>, busy: [] as number[], errors: 0, firstError: undefined as string | undefined }])) as Record<
      Layout,
      { rps: number[]; cpu: Record<string, number[]>; busy: number[]; errors: number; firstError: string | undefined }
    >;
    for (const layout of layouts) {
      await r.front.setBackends(backends[layout]);
      await send({ target: 'front', concurrency: CONCURRENCY, seconds: 1 }); // warm-up: connections, JIT
    }
    for (let round = 0; round < rounds; round++) {
      for (const layout of layouts) {
        await r.front.setBackends(backends[layout]);
        const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
        const machineBefore = machineJiffies();
        const result = await send({ target: 'front', concurrency: CONCURRENCY, seconds });
        const machineAfter = machineJiffies();
        const s = seen[layout];
        s.rps.push(result.requests / result.seconds);
        s.errors += result.errors;
        s.firstError ??= result.firstError;
        s.busy.push((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total));
        for (const [name, pid] of Object.entries(processes)) (s.cpu[name] ??= []).push(((cpuSeconds(pid) - before[name]!) * 1e6) / result.requests);
      }
      opts.say?.(`  round ${round + 1}/${rounds}: ${layouts.map((l) => `${l} ${seen[l].rps.at(-1)!.toFixed(0)} req/s (machine ${(100 * seen[l].busy.at(-1)!).toFixed(0)}% busy${seen[l].errors ? `, ${seen[l].errors} failed so far` : ''})`).join('; ')}\n`);
    }
    const cores = (readFileSync('/proc/stat', 'utf8').match(/^cpu\d+ /gm) ?? []).length;
    const figures = Object.fromEntries(
      layouts.map((l) => [l, { requestsPerSecond: median(seen[l].rps), cpuUsPerRequest: Object.fromEntries(Object.entries(seen[l].cpu).map(([n, xs]) => [n, median(xs)])), machineBusy: median(seen[l].busy), errors: seen[l].errors, ...(seen[l].firstError ? { firstError: seen[l].firstError } : {}) }]),
    ) as Record<Layout, LayoutFigures>;
    return { rounds, seconds, cores, layouts: figures };
  } finally {
    if (load && load.exitCode === null) {
      const exited = new Promise((resolve) => load!.once('exit', resolve));
      load.kill('SIGTERM');
      await exited;
    }
    await r.close();
  }
}
