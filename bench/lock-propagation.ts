// How long a lock takes to reach another replica (replicas.ts: two ztshd
// processes on one PostgreSQL database): alice holds a live watch of pods
// through replica B; bob adds a lock on alice through replica A's API, as
// `ztsh lock add` does (POST /v1/locks with his certificate); the figure is
// the time from the moment the POST is sent until B has ended the watch.
// Then bob removes the lock through A, alice's watch is opened again on B
// (once B lets her back in), and the next round starts.
import { connect, type ClientHttp2Session } from 'node:http2';
import { Agent, request } from 'node:https';
import { startReplicas, type ClientCert } from './replicas.ts';

const WATCH = '/k8s/sandbox/api/v1/namespaces/default/pods?watch=true';

export interface LockPropagationRun {
  rounds: number;
  /** From sending the lock to the watch's end on the other replica, ms, sorted. */
  endedMs: number[];
  /** How long the POST took to be answered, ms (the lock is committed by then), median. */
  postMsP50: number;
  /** From the DELETE's answer until the other replica let alice watch again, ms, median. */
  unlockedMsP50: number;
}

interface Watch {
  session: ClientHttp2Session;
  /** Resolves with performance.now() when the watch stream ends, whoever ends it. */
  ended: Promise<number>;
}

/** A watch of pods on one replica; rejects with the status when the replica refuses it. */
function openWatch(url: string, ca: string, who: ClientCert): Promise<Watch> {
  const session = connect(url, { ca, cert: who.cert, key: who.key, servername: 'localhost' });
  session.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': WATCH });
    const ended = new Promise<number>((done) => stream.once('close', () => done(performance.now())));
    stream.on('error', () => undefined);
    stream.on('data', () => undefined);
    stream.once('response', (h) => {
      const status = Number(h[':status']);
      if (status === 200) resolve({ session, ended });
      else {
        session.close();
        reject(new Error(`watch answered ${status}`));
      }
    });
    stream.once('close', () => reject(new Error('watch closed before its answer')));
  });
}

function call(agent: Agent, url: string, ca: string, who: ClientCert, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, agent, ca, cert: who.cert, key: who.key, servername: 'localhost', headers: { 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function measureLockPropagation(opts: { rounds?: number; say?: (text: string) => void } = {}): Promise<LockPropagationRun> {
  const rounds = opts.rounds ?? 30;
  const r = await startReplicas(2, opts.say);
  const [a, b] = r.replicas as [(typeof r.replicas)[0], (typeof r.replicas)[0]];
  // bob's connection to A is kept, as a CLI in a loop would not: the POST's own handshake is no part of propagation.
  const toA = new Agent({ keepAlive: true, maxSockets: 1 });
  const endedMs: number[] = [];
  const postMs: number[] = [];
  const unlockedMs: number[] = [];
  try {
    let watch = await openWatch(b.url, r.caCert, r.alice);
    for (let round = 0; round < rounds; round++) {
      const sent = performance.now();
      const locked = await call(toA, a.url, r.caCert, r.bob, 'POST', '/v1/locks', { user: 'alice', message: 'bench: lock propagation' });
      postMs.push(performance.now() - sent);
      if (locked.status !== 201 && locked.status !== 200) throw new Error(`POST /v1/locks on ${a.name}: ${locked.status} ${JSON.stringify(locked.json)}`);
      endedMs.push((await watch.ended) - sent);
      watch.session.close();
      const { id } = locked.json as { id: string };
      const removed = await call(toA, a.url, r.caCert, r.bob, 'DELETE', `/v1/locks/${encodeURIComponent(id)}`);
      if (removed.status >= 300) throw new Error(`DELETE /v1/locks/${id} on ${a.name}: ${removed.status}`);
      const unlockedAt = performance.now();
      // B refuses alice until it has heard of the removal: try again until it lets her in.
      for (let attempt = 0; ; attempt++) {
        try {
          watch = await openWatch(b.url, r.caCert, r.alice);
          break;
        } catch (error) {
          if (attempt >= 500) throw new Error(`alice is still refused on ${b.name} 10 s after the lock was removed: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      unlockedMs.push(performance.now() - unlockedAt);
      if ((round + 1) % 10 === 0) opts.say?.(`  ${round + 1}/${rounds} rounds: watch ended ${endedMs.at(-1)!.toFixed(0)} ms after the lock was sent\n`);
    }
    watch.session.close();
    return { rounds, endedMs: [...endedMs].sort((x, y) => x - y), postMsP50: median(postMs), unlockedMsP50: median(unlockedMs) };
  } finally {
    toA.destroy();
    await r.close();
  }
}
