// The agent: joins once, then holds a tunnel to each proxy replica (dialing
// the one proxy address until it has one to every replica in the set they
// announce, with jittered backoff after failures) and serves the proxy's
// requests on each.
//
//   dial ──101 (replica r, set S)──▶ hold r; S is the set now; dial again while S has one not held
//        ──409 (replica r, held)──▶ dial again after a short jittered pause
//        ──fails──────────────────▶ dial again after backoff
//   POST /.ztsh/replicas on a tunnel ─▶ S is the set now; drop tunnels to replicas not in S
import { createServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { WebSocket, createWebSocketStream } from 'ws';
import {
  formatReplicaList,
  goawayWatch,
  isReplicaId,
  MAX_REPLICAS,
  openTunnelWindow,
  readReplicaAnnouncement,
  TUNNEL_H2_SETTINGS,
  TUNNEL_HEADERS,
  TUNNEL_MAX_PAYLOAD,
  tunnelStream,
  type ReplicaAnnouncement,
} from '@ztsh/protocol';
import type { KubeTarget } from './config.ts';
import { createForwarder } from './forwarder.ts';
import { ensureHostIdentity } from './join.ts';
import type { AgentMetrics } from './metrics.ts';
import { answerControl, isControlRequest } from './replica-control.ts';
import { backoffDelay, planTunnels, redialDelay, UNNAMED_REPLICA } from './tunnel-plan.ts';

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
  /** Backoff between reconnects after a failure: base and cap, ms. */
  backoff?: { baseMs: number; maxMs: number };
  /** The pause before dialing again after landing on a replica already held: base and cap, ms. */
  redial?: { baseMs: number; maxMs: number };
  /** Requests, bytes, reconnects and tunnel state (metrics.ts). */
  metrics?: AgentMetrics | undefined;
}

export interface RunningAgent {
  /** Resolves once a tunnel is up (again). */
  connected(): Promise<void>;
  isConnected(): boolean;
  /** The replicas it holds a tunnel to, and the set last announced (undefined before the first tunnel). */
  replicas(): { held: string[]; wanted: string[] | undefined };
  /** Resolves once `check` holds for the replicas (checked now and at every change). */
  whenReplicas(check: (state: { held: string[]; wanted: string[] | undefined }) => boolean): Promise<void>;
  stop(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const now = options.now ?? (() => new Date());
  const log = options.log.child({ component: 'agent', cluster: options.cluster });
  const identity = await ensureHostIdentity({ proxy: options.proxy, cluster: options.cluster, stateDir: options.stateDir, token: options.token, proxyCa: options.proxyCa, now });
  const backoff = options.backoff ?? { baseMs: 250, maxMs: 15_000 };
  const redial = options.redial ?? { baseMs: 100, maxMs: 5_000 };

  /** The tunnel each held replica is reached on. */
  const held = new Map<string, WebSocket>();
  let wanted: string[] | undefined;
  const replicaOf = new WeakMap<ServerHttp2Session, string>();
  const forward = createForwarder(options.kube, log, options.metrics);
  const h2 = createServer({ settings: TUNNEL_H2_SETTINGS });
  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    if (!isControlRequest(headers)) return forward(stream, headers);
    const replica = replicaOf.get(stream.session as ServerHttp2Session);
    answerControl(stream, headers, replica, (announcement) => announced(announcement, 'tunnel'), log.child({ replica }));
  });
  const sessions = new Set<ServerHttp2Session>();
  /** The tunnel whose stream h2 is being handed (the 'session' event comes at once). */
  let handing: { socket: WebSocket; replica: string } | undefined;
  h2.on('session', (session: ServerHttp2Session) => {
    const socket = handing?.socket;
    if (handing) replicaOf.set(session, handing.replica);
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

  let stopped = false;
  /** The one dial in flight: dials go through the load balancer one at a time. */
  let dialing: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** Failed dials in a row (backoff), and dials in a row that landed on a replica already held (redial). */
  let attempt = 0;
  let duplicates = 0;
  let waiters: (() => void)[] = [];
  const watchers = new Set<() => void>();

  const state = () => ({ held: [...held.keys()].sort(), wanted: wanted ? [...wanted] : undefined });
  const changed = () => {
    options.metrics?.tunnel(held.size > 0);
    options.metrics?.tunnels(held.size, wanted?.length ?? 0);
    for (const watcher of [...watchers]) watcher();
  };

  /** Dials after `delay` ms unless a dial is in flight or already timed. */
  const dialIn = (delay: number) => {
    if (stopped || dialing || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      dial();
    }, delay);
  };

  /** Closes tunnels to replicas that left the set and dials if one is missing; `delay`: when to dial. */
  const settle = (delay: () => number) => {
    if (stopped) return;
    const plan = planTunnels([...held.keys()], wanted);
    for (const replica of plan.drop) {
      const socket = held.get(replica);
      held.delete(replica);
      log.info({ replica }, 'the replica left the set; closing its tunnel');
      socket?.close(1000, 'the replica left the set');
    }
    if (plan.drop.length > 0) changed();
    if (plan.dial) dialIn(delay());
  };

  const announced = (announcement: ReplicaAnnouncement, via: string) => {
    const before = wanted?.join(',');
    wanted = announcement.replicas;
    if (before !== wanted.join(',')) {
      log.info({ replicas: wanted, from: announcement.self, via }, 'replica set');
      changed();
    }
    settle(() => redialDelay(0, redial));
  };

  const failed = (socket: WebSocket, why: Record<string, unknown>, message: string) => {
    if (dialing !== socket) return;
    dialing = undefined;
    if (stopped) return;
    log.warn(why, message);
    options.metrics?.reconnect();
    const delay = backoffDelay(attempt++, backoff);
    log.info({ delayMs: Math.round(delay) }, 'tunnel not up; dialing again');
    settle(() => delay);
  };

  const dial = () => {
    if (stopped || dialing) return;
    const holding = [...held.keys()].filter(isReplicaId).slice(0, MAX_REPLICAS);
    const socket = new WebSocket(new URL('/v1/tunnel', options.proxy.toString().replace(/^http/, 'ws')), {
      cert: identity.cert,
      key: identity.key,
      ...(options.proxyCa ? { ca: options.proxyCa } : {}),
      headers: {
        [TUNNEL_HEADERS.labels]: JSON.stringify(options.labels),
        ...(holding.length > 0 ? { [TUNNEL_HEADERS.replicasHeld]: formatReplicaList(holding) } : {}),
      },
      perMessageDeflate: false,
      maxPayload: TUNNEL_MAX_PAYLOAD,
    });
    dialing = socket;
    /** Where this tunnel landed, from the upgrade's answer. */
    let landed: { replica: string; announcement: ReplicaAnnouncement | undefined } | undefined;
    socket.on('upgrade', (res: IncomingMessage) => {
      const id = res.headers[TUNNEL_HEADERS.replicaId];
      const set = res.headers[TUNNEL_HEADERS.replicas];
      if (id === undefined && set === undefined) {
        // A ztshd from before replicas: one proxy, this one.
        landed = { replica: UNNAMED_REPLICA, announcement: undefined };
        return;
      }
      const announcement = readReplicaAnnouncement(id, set);
      if (announcement) landed = { replica: announcement.self, announcement };
    });
    socket.on('open', () => {
      if (!landed) {
        failed(socket, {}, 'the proxy named no valid replica or replica set on the tunnel; closing it');
        socket.close(1002, 'bad replica headers');
        return;
      }
      const { replica, announcement } = landed;
      if (held.has(replica) || stopped) {
        // The proxy should have answered 409: this replica's tunnel stays the one held.
        dialing = undefined;
        socket.close(1000, 'a tunnel to this replica is held already');
        duplicates++;
        settle(() => redialDelay(duplicates, redial));
        return;
      }
      dialing = undefined;
      attempt = 0;
      duplicates = 0;
      held.set(replica, socket);
      hold(socket, replica);
      log.info({ replica }, 'tunnel up');
      waiters.forEach((w) => w());
      waiters = [];
      if (!announcement) wanted = [UNNAMED_REPLICA];
      changed();
      if (announcement) announced(announcement, 'upgrade');
      else settle(() => redialDelay(0, redial));
    });
    /** Landed on a replica already held: an expected answer, not an error to log. */
    let duplicate = false;
    socket.on('unexpected-response', (_req, res) => {
      const id = res.headers[TUNNEL_HEADERS.replicaId];
      if (res.statusCode === 409 && typeof id === 'string' && held.has(id) && dialing === socket) {
        duplicate = true;
        dialing = undefined;
        duplicates++;
        const delay = redialDelay(duplicates, redial);
        log.debug({ replica: id, delayMs: Math.round(delay) }, 'landed on a replica already held; dialing again');
        settle(() => delay);
      } else failed(socket, { status: res.statusCode }, 'the proxy refused the tunnel');
      socket.terminate();
    });
    socket.on('error', (error) => {
      if (!duplicate) log.warn({ err: error.message }, 'tunnel error');
    });
    socket.on('close', () => failed(socket, {}, 'tunnel closed before it was up'));
  };

  /** A tunnel up: hand it to the HTTP/2 server, and dial again when it ends. */
  const hold = (socket: WebSocket, replica: string) => {
    // The agent's nghttp2 answers a proxy that breaks HTTP/2 with GOAWAY and then waits: end the tunnel and dial again.
    const watch = goawayWatch(false, (errorCode) => {
      if (errorCode === 0) return;
      log.warn({ errorCode, replica }, 'the proxy broke the HTTP/2 protocol; closing the tunnel');
      // Later, not inside the session's own write.
      setImmediate(() => socket.close(1002, 'the proxy broke the HTTP/2 protocol'));
    });
    const stream = tunnelStream(createWebSocketStream(socket), socket, watch);
    stream.on('error', () => undefined);
    handing = { socket, replica };
    try {
      h2.emit('connection', stream);
    } finally {
      handing = undefined;
    }
    socket.on('message', (_data, isBinary) => {
      if (!isBinary && socket.readyState === WebSocket.OPEN) {
        log.warn({ replica }, 'the proxy sent a text message on the tunnel; closing it');
        socket.close(1003, 'the tunnel carries binary messages only');
      }
    });
    socket.on('close', () => {
      const mine = held.get(replica) === socket;
      if (mine) held.delete(replica);
      changed();
      if (stopped || !mine) return;
      options.metrics?.reconnect();
      // Full jitter: a fleet of agents does not reconnect in step after a proxy restart.
      const delay = backoffDelay(attempt++, backoff);
      log.info({ replica, delayMs: Math.round(delay) }, 'tunnel down; reconnecting');
      settle(() => delay);
    });
  };
  dial();

  return {
    connected: () => (held.size > 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    isConnected: () => held.size > 0,
    replicas: state,
    whenReplicas: (check) =>
      new Promise((resolve) => {
        const watcher = () => {
          if (!check(state())) return;
          watchers.delete(watcher);
          resolve();
        };
        watchers.add(watcher);
        watcher();
      }),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      dialing?.terminate();
      for (const socket of held.values()) socket.terminate();
      const closed = new Promise<void>((resolve) => h2.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
