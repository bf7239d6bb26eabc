// The agent: joins once, then holds a tunnel to each proxy replica (dialing
// the one proxy address until it has one to every replica in the set they
// announce, with jittered backoff after failures) and serves the proxy's
// requests on each.
//
//   dial ──101 (replica r, set S)──▶ hold r; S is the set now; dial again while S has one not held
//        ──409 (replica r, held)──▶ dial again after a short jittered pause
//        ──fails──────────────────▶ dial again after backoff
//   POST /.ztsh/replicas on a tunnel ─▶ S is the set now; drop tunnels to replicas not in S
//
// Each dial is direct (HTTP/2 on the TLS connection after a 101) or a
// WebSocket (tunnel-dial.ts); with `auto`, a path that refuses the direct
// upgrade makes the agent use the WebSocket for a while.
import { performServerHandshake, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingHttpHeaders as Http1Headers } from 'node:http';
import type { Logger } from 'pino';
import {
  formatReplicaList,
  isReplicaId,
  MAX_REPLICAS,
  openTunnelWindow,
  readReplicaAnnouncement,
  TUNNEL_H2_SETTINGS,
  TUNNEL_HEADERS,
  type ReplicaAnnouncement,
  type TunnelTransport,
} from '@ztsh/protocol';
import type { KubeTarget } from './config.ts';
import { createForwarder } from './forwarder.ts';
import { ensureHostIdentity } from './join.ts';
import type { AgentMetrics } from './metrics.ts';
import { answerControl, isControlRequest } from './replica-control.ts';
import { backoffDelay, planTunnels, redialDelay, UNNAMED_REPLICA } from './tunnel-plan.ts';
import { dialDirect, dialWebSocket, type Dial, type OpenTunnel } from './tunnel-dial.ts';

/** After the direct upgrade was refused by the path (auto), dials use the WebSocket this long before trying direct again. */
const WEBSOCKET_FALLBACK_MS = 10 * 60_000;

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
  /** How the tunnel is carried (tunnel-stream.ts); default auto. */
  transport?: TunnelTransport | undefined;
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
  const transport = options.transport ?? 'websocket';

  /** The tunnel each held replica is reached on. */
  const held = new Map<string, OpenTunnel>();
  let wanted: string[] | undefined;
  const forward = createForwarder(options.kube, log, options.metrics);
  const sessions = new Set<ServerHttp2Session>();

  /** Serves the proxy's requests on a tunnel that is up; `ended` runs once its HTTP/2 session is over. */
  const serve = (tunnel: OpenTunnel, replica: string) => {
    const session = performServerHandshake(tunnel.socket, { settings: TUNNEL_H2_SETTINGS });
    sessions.add(session);
    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      if (!isControlRequest(headers)) return forward(stream, headers);
      answerControl(stream, headers, replica, (announcement) => announced(announcement, 'tunnel'), log.child({ replica }));
    });
    // Whatever the proxy sends, no handler here throws out of the agent.
    session.once('connect', () => {
      try {
        openTunnelWindow(session);
      } catch (err) {
        log.warn({ err }, 'tunnel window not opened');
      }
    });
    session.on('error', (err) => log.warn({ err, replica }, 'tunnel session error'));
    session.on('close', () => {
      sessions.delete(session);
      // A tunnel without its HTTP/2 session serves nothing: drop it and dial again.
      tunnel.close('the HTTP/2 session ended');
    });
    tunnel.started(session);
  };

  let stopped = false;
  /** The one dial in flight: dials go through the load balancer one at a time. */
  let dialing: Dial | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** Failed dials in a row (backoff), and dials in a row that landed on a replica already held (redial). */
  let attempt = 0;
  let duplicates = 0;
  /** auto: until when dials use the WebSocket, after the path refused the direct upgrade. */
  let websocketUntil = 0;
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
      const tunnel = held.get(replica);
      held.delete(replica);
      log.info({ replica }, 'the replica left the set; closing its tunnel');
      tunnel?.close('the replica left the set', true);
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

  const failed = (attemptOf: Dial, why: Record<string, unknown>, message: string) => {
    if (dialing !== attemptOf) return;
    dialing = undefined;
    if (stopped) return;
    log.warn(why, message);
    options.metrics?.reconnect();
    const delay = backoffDelay(attempt++, backoff);
    log.info({ delayMs: Math.round(delay) }, 'tunnel not up; dialing again');
    settle(() => delay);
  };

  /** Where a tunnel landed, from the headers of the upgrade's answer; undefined when they name nothing valid. */
  const landing = (headers: Http1Headers): { replica: string; announcement: ReplicaAnnouncement | undefined } | undefined => {
    const id = headers[TUNNEL_HEADERS.replicaId];
    const set = headers[TUNNEL_HEADERS.replicas];
    // A ztshd from before replicas: one proxy, this one.
    if (id === undefined && set === undefined) return { replica: UNNAMED_REPLICA, announcement: undefined };
    const announcement = readReplicaAnnouncement(id, set);
    return announcement ? { replica: announcement.self, announcement } : undefined;
  };

  const dial = () => {
    if (stopped || dialing) return;
    const holding = [...held.keys()].filter(isReplicaId).slice(0, MAX_REPLICAS);
    const how = transport === 'auto' ? (Date.now() < websocketUntil ? 'websocket' : 'direct') : transport;
    const request = {
      url: new URL('/v1/tunnel', options.proxy),
      tls: { cert: identity.cert, key: identity.key, ...(options.proxyCa ? { ca: options.proxyCa } : {}) },
      headers: {
        [TUNNEL_HEADERS.labels]: JSON.stringify(options.labels),
        ...(holding.length > 0 ? { [TUNNEL_HEADERS.replicasHeld]: formatReplicaList(holding) } : {}),
      },
    };
    const current: Dial = (how === 'direct' ? dialDirect : dialWebSocket)(request, {
      open: (tunnel, headers) => {
        const landed = landing(headers);
        if (!landed) {
          failed(current, { transport: how }, 'the proxy named no valid replica or replica set on the tunnel; closing it');
          tunnel.close('bad replica headers');
          return;
        }
        const { replica, announcement } = landed;
        if (held.has(replica) || stopped) {
          // The proxy should have answered 409: this replica's tunnel stays the one held.
          dialing = undefined;
          tunnel.close('a tunnel to this replica is held already', true);
          duplicates++;
          settle(() => redialDelay(duplicates, redial));
          return;
        }
        dialing = undefined;
        attempt = 0;
        duplicates = 0;
        held.set(replica, tunnel);
        hold(tunnel, replica);
        log.info({ replica, transport: how }, 'tunnel up');
        waiters.forEach((w) => w());
        waiters = [];
        if (!announcement) wanted = [UNNAMED_REPLICA];
        changed();
        if (announcement) announced(announcement, 'upgrade');
        else settle(() => redialDelay(0, redial));
      },
      refused: (status, headers) => {
        const id = headers[TUNNEL_HEADERS.replicaId];
        if (status === 409 && typeof id === 'string' && held.has(id) && dialing === current) {
          // Landed on a replica already held: an expected answer, not an error to log.
          dialing = undefined;
          duplicates++;
          const delay = redialDelay(duplicates, redial);
          log.debug({ replica: id, delayMs: Math.round(delay) }, 'landed on a replica already held; dialing again');
          settle(() => delay);
        } else if (how === 'direct' && transport === 'auto' && pathRefusal(status) && dialing === current) {
          dialing = undefined;
          websocketUntil = Date.now() + WEBSOCKET_FALLBACK_MS;
          log.warn({ status }, 'the way to the proxy refused the direct tunnel; using a WebSocket for now');
          settle(() => redialDelay(0, redial));
        } else failed(current, { status, transport: how }, 'the proxy refused the tunnel');
      },
      failed: (err) => failed(current, { err: err.message, transport: how }, 'tunnel closed before it was up'),
    }, log);
    dialing = current;
  };

  /** A tunnel up: serve the proxy on it, and dial again when it ends. */
  const hold = (tunnel: OpenTunnel, replica: string) => {
    tunnel.ended(() => {
      const mine = held.get(replica) === tunnel;
      if (mine) held.delete(replica);
      changed();
      if (stopped || !mine) return;
      options.metrics?.reconnect();
      // Full jitter: a fleet of agents does not reconnect in step after a proxy restart.
      const delay = backoffDelay(attempt++, backoff);
      log.info({ replica, delayMs: Math.round(delay) }, 'tunnel down; reconnecting');
      settle(() => delay);
    });
    serve(tunnel, replica);
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
      dialing?.abort();
      for (const tunnel of held.values()) tunnel.terminate();
      const closed = [...sessions].map((session) => new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve()))));
      for (const session of sessions) session.destroy();
      await Promise.all(closed);
    },
  };
}

/**
 * Answers to the direct upgrade that say the way to the proxy does not pass
 * it (a ztshd from before it says 400; load balancers that pass only
 * WebSockets say 400, 403, 404, 405, 426 or 501), not that the agent is
 * refused: those fall back to the WebSocket in auto mode. 401 (the host
 * certificate) and 5xx but 501 fail as any dial does.
 */
function pathRefusal(status: number): boolean {
  return [400, 403, 404, 405, 426, 501].includes(status);
}
