// The proxy side of the idle-tunnel memory bench, in a process of its own so that only the
// proxy's memory is measured: ztshd's dev stack (auth + proxy) on port 0. The bench drives it
// over IPC (see idle-tunnels.ts): issue host certificates the way POST /v1/join does (a join
// token per cluster, redeemed in-process), report memory after a full GC, count tunnels, close.
// Run with --expose-gc.
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createJoinToken, joinCluster } from '@ztsh/auth';
import { startDevStack } from '@ztsh/server';
import type { ProxyReply, ProxyRequest } from './idle-tunnels.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !process.send) throw new Error('run me with --expose-gc through child_process.fork');
const reply = (message: ProxyReply) => process.send!(message);

const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-bench-tunnels-'));
const stack = await startDevStack({ dataDir, port: 0, log: pino({ level: 'silent' }) });
const { auth, proxy } = stack.ztshd;

/**
 * Resident bytes of the malloc heap grown with brk ("[heap]" in smaps): where the native side of
 * every connection lives (OpenSSL's SSL object and buffers, Node's TLS and TCP wraps), as all of
 * them run on the main thread. Linux only, as the bench's other /proc readings.
 */
function mallocHeap(): number {
  let inHeap = false;
  let kib = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.endsWith('[heap]');
    else if (inHeap && line.startsWith('Rss:')) kib += Number(/(\d+)/.exec(line)![1]);
  }
  return kib * 1024;
}

/** Collects garbage until the heap stops shrinking, with pauses for finalizers and native frees. */
async function settledMemory(): Promise<{ usage: NodeJS.MemoryUsage; mallocHeap: number }> {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 64 * 1024) break;
    last = used;
  }
  return { usage: process.memoryUsage(), mallocHeap: mallocHeap() };
}

process.on('message', (message: ProxyRequest) => {
  void (async () => {
    switch (message.type) {
      case 'join': {
        const joined = [];
        for (const { cluster, publicKey } of message.agents) {
          const { token } = await createJoinToken(auth.deps, { type: 'agent', cluster, ttlMs: 10 * 60_000, uses: 1 });
          joined.push(await joinCluster(auth.deps, { token, cluster, publicKey, hostname: 'bench' }, '127.0.0.1'));
        }
        return reply({ type: 'joined', certificates: joined.map((j) => j.certificate), hostCa: joined[0]?.hostCaCertificates.join('') ?? '' });
      }
      case 'memory':
        return reply({ type: 'memory', ...(await settledMemory()), online: proxy.tunnels.list().filter((c) => c.online).length });
      case 'close':
        await stack.close();
        rmSync(dataDir, { recursive: true, force: true });
        process.disconnect();
    }
  })().catch((error: unknown) => reply({ type: 'error', message: (error as Error).stack ?? String(error) }));
});

reply({ type: 'ready', url: stack.url.href, ca: stack.ztshd.tls.selfSignedCa! });
