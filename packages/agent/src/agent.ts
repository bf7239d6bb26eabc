// The agent: joins once, then keeps a tunnel to the proxy open (reconnecting
// with jittered backoff) and serves the proxy's requests on it.
import { createServer, type ServerHttp2Session } from 'node:http2';
import type { Logger } from 'pino';
import { WebSocket, createWebSocketStream } from 'ws';
import { goawayWatch, openTunnelWindow, TUNNEL_H2_SETTINGS, TUNNEL_HEADERS, TUNNEL_MAX_PAYLOAD, tunnelStream } from '@ztsh/protocol';
import type { KubeTarget } from './config.ts';
import { createForwarder } from './forwarder.ts';
import { ensureHostIdentity } from './join.ts';
import type { AgentMetrics } from './metrics.ts';

export interface AgentOptions {
  proxy: URL;
  cluster: string;
  labels: Record<string, string>;
  stateDir: string;
  token: () => string | undefined;
  proxyCa?: string | undefined;
  kube: KubeTarget;
  log: Logger;
  now?: () => Date;
  /** Backoff between reconnects: base and cap, ms. */
  backoff?: { baseMs: number; maxMs: number };
  /** Requests, bytes, reconnects and tunnel state (metrics.ts). */
  metrics?: AgentMetrics | undefined;
}

export interface RunningAgent {
  /** Resolves once the tunnel is up (again). */
  connected(): Promise<void>;
  isConnected(): boolean;
  stop(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const now = options.now ?? (() => new Date());
  const log = options.log.child({ component: 'agent', cluster: options.cluster });
  const identity = await ensureHostIdentity({ proxy: options.proxy, cluster: options.cluster, stateDir: options.stateDir, token: options.token, proxyCa: options.proxyCa, now });
  const h2 = createServer({ settings: TUNNEL_H2_SETTINGS });
  h2.on('stream', createForwarder(options.kube, log, options.metrics));
  const sessions = new Set<ServerHttp2Session>();
  /** The tunnel whose stream h2 is being handed (the 'session' event comes at once). */
  let handing: WebSocket | undefined;
  h2.on('session', (session: ServerHttp2Session) => {
    const socket = handing;
    sessions.add(session);
    // Whatever the proxy sends, no handler here throws out of the agent.
    session.once('connect', () => {
      try {
        openTunnelWindow(session);
      } catch (err) {
        log.warn({ err }, 'tunnel window not opened');
      }
    });
    session.on('close', () => {
      sessions.delete(session);
      // A tunnel without its HTTP/2 session serves nothing: drop it and dial again.
      if (socket && socket.readyState === WebSocket.OPEN) socket.close(1002, 'the HTTP/2 session ended');
    });
  });
  h2.on('sessionError', (err) => log.warn({ err }, 'tunnel session error'));

  const backoff = options.backoff ?? { baseMs: 250, maxMs: 15_000 };
  let stopped = false;
  let ws: WebSocket | undefined;
  let attempt = 0;
  let up = false;
  let waiters: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;

  const dial = () => {
    if (stopped) return;
    const socket = new WebSocket(new URL('/v1/tunnel', options.proxy.toString().replace(/^http/, 'ws')), {
      cert: identity.cert,
      key: identity.key,
      ...(options.proxyCa ? { ca: options.proxyCa } : {}),
      headers: { [TUNNEL_HEADERS.labels]: JSON.stringify(options.labels) },
      perMessageDeflate: false,
      maxPayload: TUNNEL_MAX_PAYLOAD,
    });
    ws = socket;
    socket.on('open', () => {
      attempt = 0;
      up = true;
      options.metrics?.tunnel(true);
      // The agent's nghttp2 answers a proxy that breaks HTTP/2 with GOAWAY and then waits: end the tunnel and dial again.
      const watch = goawayWatch(false, (errorCode) => {
        if (errorCode === 0) return;
        log.warn({ errorCode }, 'the proxy broke the HTTP/2 protocol; closing the tunnel');
        // Later, not inside the session's own write.
        setImmediate(() => socket.close(1002, 'the proxy broke the HTTP/2 protocol'));
      });
      const stream = tunnelStream(createWebSocketStream(socket), socket, watch);
      stream.on('error', () => undefined);
      handing = socket;
      try {
        h2.emit('connection', stream);
      } finally {
        handing = undefined;
      }
      log.info('tunnel up');
      waiters.forEach((w) => w());
      waiters = [];
    });
    socket.on('message', (_data, isBinary) => {
      if (!isBinary && socket.readyState === WebSocket.OPEN) {
        log.warn('the proxy sent a text message on the tunnel; closing it');
        socket.close(1003, 'the tunnel carries binary messages only');
      }
    });
    socket.on('unexpected-response', (_req, res) => {
      log.warn({ status: res.statusCode }, 'the proxy refused the tunnel');
      socket.terminate();
    });
    socket.on('error', (error) => log.warn({ err: error.message }, 'tunnel error'));
    socket.on('close', () => {
      up = false;
      options.metrics?.tunnel(false);
      if (stopped) return;
      options.metrics?.reconnect();
      // Full jitter: a fleet of agents does not reconnect in step after a proxy restart.
      const delay = Math.random() * Math.min(backoff.maxMs, backoff.baseMs * 2 ** attempt++);
      log.info({ delayMs: Math.round(delay) }, 'tunnel down; reconnecting');
      timer = setTimeout(dial, delay);
    });
  };
  dial();

  return {
    connected: () => (up ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    isConnected: () => up,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      ws?.terminate();
      const closed = new Promise<void>((resolve) => h2.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
