// The load generator of the small-GET rows (kube-get.ts), in a process of
// its own so that its CPU is no part's: it sends one small GET after another
// to a target, at a given concurrency, for a given time. Targets speak as
// the clients they stand for: HTTP/2 over TLS on one connection, as kubectl
// does (to the apiserver with a bearer token, to ztsh with alice's client
// certificate), or HTTP/1.1 keep-alive with one connection per concurrent
// request (to `kubectl proxy`, plain HTTP on loopback). A target may ask
// for several HTTP/2 connections, as many users each with their own
// kubectl make (replica-get.ts): requests take them in turn, and they are
// closed after each run, so that a load balancer spreads the next run's
// connections afresh. Started with
// child_process.fork, the targets as JSON in argv[2]; each IPC message
// { target, concurrency, seconds } is answered with a LoadResult.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { connect, type ClientHttp2Session } from 'node:http2';

export interface LoadTarget {
  name: string;
  protocol: 'h2' | 'http/1.1';
  origin: string;
  path: string;
  headers?: Record<string, string>;
  ca?: string;
  cert?: string;
  key?: string;
  /** HTTP/2 connections to spread the requests over (default 1); with more than one, each run opens its own. */
  connections?: number;
  /** TLS server name when the origin is an IP address. */
  servername?: string;
  /**
   * Count failed requests and go on, instead of failing the run: behind a
   * load balancer, a replica that misses a health check under load has its
   * connections cut, and that is part of what is measured.
   */
  countErrors?: boolean;
}

export interface LoadRun {
  target: string;
  concurrency: number;
  seconds: number;
}

export interface LoadResult {
  /** Requests answered 200. */
  requests: number;
  /** Requests that failed (only counted for targets with countErrors). */
  errors: number;
  /** The first error's message, if any. */
  firstError?: string;
  seconds: number;
  /** Percentiles of each request's time in ms: only at concurrency 1. */
  p50Ms?: number;
  p99Ms?: number;
}

interface Send {
  (): Promise<void>;
  /** After a run: closes the connections of a target that asked for several. */
  done?: () => void;
}

function h2Sender(t: LoadTarget): Send {
  const sessions: (ClientHttp2Session | undefined)[] = Array.from({ length: t.connections ?? 1 });
  let turn = 0;
  const open = (i: number) => {
    const s = connect(t.origin, { ...(t.ca ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert, key: t.key } : {}), ...(t.servername ? { servername: t.servername } : {}) });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (sessions[i] === s) sessions[i] = undefined;
    });
    return s;
  };
  const send: Send = () =>
    new Promise((resolve, reject) => {
      const i = turn++ % sessions.length;
      const session = (sessions[i] ??= open(i));
      const req = session.request({ ':path': t.path, ...t.headers });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: Buffer) => {
        if (status !== 200 && body.length < 500) body += d.toString();
      });
      req.on('end', () => (status === 200 ? resolve() : reject(new Error(`${t.name}: GET ${t.path} answered ${status}: ${body.slice(0, 500)}`))));
      req.on('error', reject);
    });
  if (sessions.length > 1) {
    send.done = () => {
      for (const [i, s] of sessions.entries()) {
        s?.close();
        sessions[i] = undefined;
      }
    };
  }
  return send;
}

function h1Sender(t: LoadTarget): Send {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(t.path, t.origin);
  return () =>
    new Promise((resolve, reject) => {
      const req = httpRequest(url, { agent, headers: t.headers }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${t.name}: GET ${t.path} answered ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
}

async function run(send: Send, concurrency: number, seconds: number, countErrors = false): Promise<LoadResult> {
  const times: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const until = start + seconds * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await send();
        } catch (error) {
          if (!countErrors) throw error;
          errors++;
          firstError ??= (error as Error).message;
          continue;
        }
        if (concurrency === 1) times.push(performance.now() - t0);
        requests++;
      }
    }),
  );
  const result: LoadResult = { requests, errors, ...(firstError ? { firstError } : {}), seconds: (performance.now() - start) / 1000 };
  if (times.length > 0) {
    times.sort((a, b) => a - b);
    result.p50Ms = times[Math.floor(times.length / 2)]!;
    result.p99Ms = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!;
  }
  return result;
}

const targets = JSON.parse(process.argv[2] ?? '[]') as LoadTarget[];
const senders = new Map(targets.map((t) => [t.name, t.protocol === 'h2' ? h2Sender(t) : h1Sender(t)]));
process.on('message', (m: LoadRun) => {
  const send = senders.get(m.target);
  if (!send) throw new Error(`no load target ${m.target}`);
  run(send, m.concurrency, m.seconds, targets.find((t) => t.name === m.target)?.countErrors).then(
    (r) => {
      send.done?.();
      process.send!(r);
    },
    (error: Error) => {
      process.stderr.write(`${error.stack}\n`);
      process.exit(1);
    },
  );
});
process.send!({ ready: true });
