// What an idle agent tunnel costs the proxy: ztshd runs in a child process (tunnel-proxy.ts,
// with --expose-gc), N real agents (startAgent: WebSocket over TLS with a host certificate,
// HTTP/2 inside) run in this process and dial it, and the child's memory after a full GC is
// compared before and after they are all connected.
//
//   bench (agents) ── N × wss://…/v1/tunnel ──▶ child: ztshd (auth + proxy)
//        └──────────── IPC: join, memory, close ─────────┘
//
// The host certificates come from the real join code (a join token per cluster, redeemed by
// joinCluster) called inside the child, which skips N HTTP round trips to POST /v1/join; each
// agent then finds its key and certificate in its state dir, as after a join. One cluster per
// agent: the proxy keeps one tunnel per cluster.
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '@ztsh/agent';

export type ProxyRequest = { type: 'join'; agents: { cluster: string; publicKey: string }[] } | { type: 'memory' } | { type: 'close' };

export type ProxyReply =
  | { type: 'ready'; url: string; ca: string }
  | { type: 'joined'; certificates: string[]; hostCa: string }
  | { type: 'memory'; usage: NodeJS.MemoryUsage; mallocHeap: number; online: number }
  | { type: 'error'; message: string };

export interface IdleTunnelsResult {
  agents: number;
  connectSeconds: number;
  before: NodeJS.MemoryUsage;
  after: NodeJS.MemoryUsage;
  /** The proxy's malloc heap (brk) resident before and after. */
  mallocHeap: { before: number; after: number };
}

const CHILD = fileURLToPath(new URL('./tunnel-proxy.ts', import.meta.url));
/** Agents dialling at once. */
const DIAL_BATCH = 50;

/** The child process and a way to ask it one thing at a time. */
function startProxyProcess(): { child: ChildProcess; ask: (request?: ProxyRequest) => Promise<ProxyReply> } {
  const child = fork(CHILD, [], { execArgv: ['--conditions=source', '--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const replies: ProxyReply[] = [];
  const waiting: ((r: ProxyReply) => void)[] = [];
  let exited: Error | undefined;
  const deliver = (r: ProxyReply) => {
    const w = waiting.shift();
    if (w) w(r);
    else replies.push(r);
  };
  child.on('message', (r: ProxyReply) => deliver(r));
  child.on('error', (error) => {
    exited = error;
    while (waiting.length > 0) deliver({ type: 'error', message: error.message });
  });
  child.on('exit', (code) => {
    exited = new Error(`the proxy process exited (code ${code})`);
    while (waiting.length > 0) deliver({ type: 'error', message: exited.message });
  });
  const ask = async (request?: ProxyRequest): Promise<ProxyReply> => {
    if (exited) throw exited;
    if (request) child.send(request);
    const r = replies.shift() ?? (await new Promise<ProxyReply>((resolve) => waiting.push(resolve)));
    if (r.type === 'error') throw new Error(`proxy process: ${r.message}`);
    return r;
  };
  return { child, ask };
}

/** The soft limit on open files (`ulimit -n`) where Linux tells it; each agent holds one socket here and one in the proxy. */
export function openFilesLimit(): number | undefined {
  if (!existsSync('/proc/self/limits')) return undefined;
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m?.[1] === undefined || m[1] === 'unlimited' ? undefined : Number(m[1]);
}

export async function measureIdleTunnels(agents: number): Promise<IdleTunnelsResult> {
  const { child, ask } = startProxyProcess();
  const stateRoot = mkdtempSync(join(tmpdir(), 'ztsh-bench-agents-'));
  const running: RunningAgent[] = [];
  try {
    const ready = await ask();
    if (ready.type !== 'ready') throw new Error(`unexpected ${ready.type} from the proxy process`);
    const proxy = new URL(ready.url);

    // One more agent than measured: the first connects before the baseline, so code and
    // caches the proxy sets up on its first tunnel are not charged to the others.
    const keys = Array.from({ length: agents + 1 }, (_, i) => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return {
        cluster: `bench-${String(i).padStart(4, '0')}`,
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    });
    const joined = await ask({ type: 'join', agents: keys.map(({ cluster, publicKey }) => ({ cluster, publicKey })) });
    if (joined.type !== 'joined') throw new Error(`unexpected ${joined.type} from the proxy process`);

    const log = pino({ level: 'silent' });
    const connect = async (i: number) => {
      const k = keys[i]!;
      const stateDir = join(stateRoot, k.cluster);
      mkdirSync(stateDir, { mode: 0o700 });
      writeFileSync(join(stateDir, 'agent.key'), k.privateKey, { mode: 0o600 });
      writeFileSync(join(stateDir, 'agent.crt'), joined.certificates[i] ?? '', { mode: 0o600 });
      writeFileSync(join(stateDir, 'host-ca.pem'), joined.hostCa);
      const agent = await startAgent({
        proxy,
        cluster: k.cluster,
        labels: { env: 'bench' },
        stateDir,
        token: () => undefined, // the state dir already holds the host certificate
        proxyCa: ready.ca,
        // Idle tunnels: nothing is ever forwarded to this apiserver.
        kube: { server: new URL('https://127.0.0.1:9'), token: () => 'unused' },
        log,
      });
      running.push(agent);
      await agent.connected();
    };
    const memory = async (online: number) => {
      const m = await ask({ type: 'memory' });
      if (m.type !== 'memory') throw new Error(`unexpected ${m.type} from the proxy process`);
      if (m.online !== online) throw new Error(`the proxy sees ${m.online} agents online, not ${online}`);
      return m;
    };

    await connect(0);
    const before = await memory(1);
    const start = performance.now();
    for (let i = 1; i <= agents; i += DIAL_BATCH) {
      await Promise.all(Array.from({ length: Math.min(DIAL_BATCH, agents + 1 - i) }, (_, j) => connect(i + j)));
    }
    const connectSeconds = (performance.now() - start) / 1000;
    // Let every tunnel settle: the last WebSocket handshakes, and the agents' HTTP/2 SETTINGS, which
    // wait in the proxy's stream until a tunnel's first request opens its session.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await memory(agents + 1);
    return { agents, connectSeconds, before: before.usage, after: after.usage, mallocHeap: { before: before.mallocHeap, after: after.mallocHeap } };
  } finally {
    await Promise.all(running.map((a) => a.stop()));
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ type: 'close' } satisfies ProxyRequest);
      const timer = setTimeout(() => child.kill(), child.connected ? 15_000 : 0);
      await gone;
      clearTimeout(timer);
    }
    rmSync(stateRoot, { recursive: true, force: true });
  }
}
