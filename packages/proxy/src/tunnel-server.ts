// /v1/tunnel: where agents dial in. The agent authenticates with its host
// certificate; the tunnel then carries an HTTP/2 connection on which the
// proxy is the client and the agent the server, so one tunnel multiplexes
// many kube requests with HTTP/2's per-stream flow control. An upgrade to
// TUNNEL_UPGRADE carries HTTP/2 directly on the TLS socket (tunnel-direct.ts);
// a WebSocket upgrade carries it in binary messages (below).
//
// Every byte an agent sends is hostile. A tunnel that breaks the protocol (a
// message over TUNNEL_MAX_PAYLOAD, a text message, bytes that are no HTTP/2,
// no SETTINGS in time) is closed with a WebSocket close code, audited and
// logged; nothing it sends can throw past the handlers here, so one agent
// can end only its own tunnel, never ztshd. A refused upgrade is audited too.
import { connect, type ClientHttp2Session } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocket, WebSocketServer } from 'ws';
import type { AgentTunnels, AgentTunnel } from './agent-tunnels.ts';
import { type AuthClient, ClusterLabels, TUNNEL_PING_MS, TUNNEL_UPGRADE, formatReplicaList, goawayWatch, kubeStatus, openTunnelWindow, parseReplicaList, peerIdentity, peerRefusalMessage, readJsonHeader, TUNNEL_H2_SETTINGS, TUNNEL_HEADERS, TUNNEL_MAX_PAYLOAD, tunnelStream } from '@ztsh/protocol';
import type { ReplicaSet } from './replica-set.ts';
import { whenStored } from './when-stored.ts';
import { refuseUpgrade } from './kube-status.ts';
import { breachOfWebSocket, CLOSE, type Breach, type TunnelAudit } from './tunnel-breach.ts';
import { prefaceWatch } from './tunnel-preface.ts';
import { acceptDirect } from './tunnel-direct.ts';
import { guardHandlers } from './guard-handlers.ts';

const PING_EVERY_MS = TUNNEL_PING_MS;
/** An agent sends its SETTINGS as soon as the tunnel is up; one that has not within this is not speaking HTTP/2. */
const PREFACE_WITHIN_MS = PING_EVERY_MS;

export interface TunnelServerDeps {
  tunnels: AgentTunnels;
  hostCaCertificates: () => string[];
  /** Refused and broken tunnels are security events. */
  audit: AuthClient['audit'];
  now: () => Date;
  log: Logger;
  /** This replica's id and the live set, told to each agent on its upgrade (tunnel-replicas.ts). */
  replicas: ReplicaSet;
}

export function tunnelServer(deps: TunnelServerDeps) {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: TUNNEL_MAX_PAYLOAD });
  const audit: TunnelAudit = (type, input) => {
    try {
      return deps.audit(type, false, input, true);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const auditFailed = (err: unknown) => deps.log.error({ err }, 'the audit event of a refused or broken tunnel was not stored');
  // Every accepted agent learns which replica it reached and which others are live.
  const replicaHeaders = () => [`${TUNNEL_HEADERS.replicaId}: ${deps.replicas.self}`, `${TUNNEL_HEADERS.replicas}: ${formatReplicaList(deps.replicas.current())}`];
  wss.on('headers', (headers) => {
    headers.push(...replicaHeaders());
  });
  const direct = { tunnels: deps.tunnels, audit, auditFailed, now: deps.now, log: deps.log, prefaceWithinMs: PREFACE_WITHIN_MS, pingEveryMs: PING_EVERY_MS };

  return {
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      // The HTTP server lets go of the socket at an upgrade: an agent's reset must not become an uncaught error.
      socket.on('error', (err) => deps.log.debug({ err }, 'tunnel socket error'));
      const clientIp = req.socket.remoteAddress ?? '';
      try {
        const peer = peerIdentity(req.socket as TLSSocket, deps.hostCaCertificates(), deps.now());
        const refuse = (status: number, message: string, reason: string, user: string, cluster?: string) => {
          deps.log.warn({ reason, user, clientIp, cluster }, 'tunnel refused');
          const stored = audit('tunnel.refused', { user, clientIp, message, fields: { reason, status, ...(cluster ? { cluster } : {}) } });
          whenStored(stored, auditFailed, () => refuseUpgrade(socket, status, message));
        };
        if (!peer.ok) return refuse(401, peerRefusalMessage(peer.reason, 'an agent host certificate is required'), peer.reason, claimedName(req.socket as TLSSocket));
        const host = peer.identity.host;
        if (host?.role !== 'agent' || !host.cluster) return refuse(401, 'an agent host certificate is required', 'not_an_agent', peer.identity.user, host?.cluster);
        const labels = readJsonHeader(ClusterLabels, req.headers[TUNNEL_HEADERS.labels], {});
        if (!labels) return refuse(400, `${TUNNEL_HEADERS.labels} must be a JSON object of strings`, 'bad_labels', peer.identity.user, host.cluster);
        const held = parseReplicaList(req.headers[TUNNEL_HEADERS.replicasHeld], true);
        if (!held) return refuse(400, `${TUNNEL_HEADERS.replicasHeld} must be a comma-separated list of replica ids`, 'bad_replicas_held', peer.identity.user, host.cluster);
        const cluster = host.cluster;
        // The agent holds a tunnel to this replica already: say which replica this is, register nothing.
        // Not audited: an agent reaching every replica through a load balancer lands here as a matter of course.
        if (held.includes(deps.replicas.self)) {
          deps.log.debug({ cluster, hostId: peer.identity.user, clientIp }, 'tunnel refused: the agent holds one to this replica');
          return refuseDuplicate(socket, deps.replicas.self);
        }
        if (isDirect(req)) {
          // The agent speaks only after our 101: bytes before it are no agent of ours (and nothing could hand them to nghttp2).
          if (head.length > 0) return refuse(400, 'the agent sent bytes before the upgrade was answered', 'early_bytes', peer.identity.user, cluster);
          return acceptDirect(direct, req.socket as TLSSocket, { cluster, hostId: peer.identity.user, labels, clientIp }, replicaHeaders());
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          try {
            accept(ws, { cluster, hostId: peer.identity.user, labels, clientIp });
          } catch (err) {
            deps.log.error({ err, cluster }, 'tunnel could not be set up');
            ws.terminate();
          }
        });
      } catch (err) {
        deps.log.error({ err, clientIp }, 'tunnel upgrade failed');
        socket.destroy();
      }
    },
    close(): void {
      wss.close();
    },
  };

  function accept(ws: WebSocket, who: { cluster: string; hostId: string; labels: Record<string, string>; clientIp: string }): void {
    const { cluster, hostId, labels, clientIp } = who;
    const log = deps.log.child({ cluster, hostId });
    let session: ClientHttp2Session | undefined;
    let broken: Breach | undefined;
    let pinger: NodeJS.Timeout | undefined;
    // nghttp2 answers a protocol error of the agent with GOAWAY and nothing else: seeing it go out ends the tunnel.
    // Later, not inside the session's own write.
    const watch = goawayWatch(true, (errorCode) => {
      if (errorCode !== 0) setImmediate(() => http2Broken(`error ${errorCode}`));
    });
    const stream = tunnelStream(createWebSocketStream(ws), ws, (sent) => {
      try {
        watch(sent);
      } catch (err) {
        breach({ reason: 'internal_error', code: CLOSE.internal, message: 'the proxy could not follow the tunnel', err });
      }
    });
    stream.on('error', () => undefined);
    // The stream ends with the session. Once a breach has sent its close frame, that must not
    // terminate the WebSocket (ws would drop the frame): ws finishes the close handshake itself.
    const destroyStream = stream._destroy.bind(stream);
    stream._destroy = (err, callback) => {
      if (!broken) return destroyStream(err, callback);
      callback(err);
      process.nextTick(() => stream.emit('close'));
    };
    // HTTP/2 starts at the tunnel's first request: a session costs the proxy ~30 KiB
    // (nghttp2's frame buffer among it), and most of a large fleet's tunnels sit idle.
    // Until then the agent's SETTINGS wait in the stream (prefaceWatch has checked them).
    const tunnel: AgentTunnel = {
      cluster,
      hostId,
      labels,
      get session() {
        return (session ??= openSession());
      },
      connectedAt: deps.now(),
      close: () => ws.terminate(),
    };

    /** Ends this tunnel, once, for what the agent did: close code, audit event, log line. */
    const breach = (what: Breach): void => {
      if (broken) return;
      broken = what;
      try {
        clearInterval(pinger);
        preface.stop();
        deps.tunnels.remove(tunnel, deps.now());
        log.warn({ reason: what.reason, closeCode: what.code, err: what.err, clientIp }, 'tunnel closed: the agent broke the tunnel protocol');
        const stored = audit('tunnel.closed', { user: hostId, clientIp, message: what.message, fields: { cluster, hostId, reason: what.reason, closeCode: what.code } });
        if (stored instanceof Promise) stored.catch(auditFailed);
      } finally {
        // ws has sent its own close frame where it found the fault itself.
        if (ws.readyState === WebSocket.OPEN) ws.close(what.code, what.message.slice(0, 120));
        else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        // With an error, so every request in flight on the session fails (502) instead of waiting.
        if (session && !session.destroyed) session.destroy(new Error(`tunnel closed: ${what.message}`));
      }
    };
    /** Whatever a handler of this tunnel throws ends this tunnel, not ztshd. */
    const guard = guardHandlers((err) => breach({ reason: 'internal_error', code: CLOSE.internal, message: 'the proxy could not handle what the agent sent', err }));

    /** The session failed: the agent's fault while the tunnel is open; once it is closing, only the end of it. */
    const http2Broken = (detail: string, err?: unknown) => {
      if (ws.readyState === WebSocket.OPEN) breach({ reason: 'http2_error', code: CLOSE.protocol, message: `the agent broke the HTTP/2 protocol (${detail})`, err });
      else log.debug({ err, detail }, 'tunnel session ended with its tunnel');
    };

    const openSession = (): ClientHttp2Session => {
      // No server push: the agent has nothing to push, and a PUSH_PROMISE is then a protocol error.
      const opened = connect('http://agent.ztsh.invalid', { createConnection: () => stream, settings: { ...TUNNEL_H2_SETTINGS, enablePush: false } });
      opened.once('connect', guard(() => openTunnelWindow(opened)));
      opened.on('error', guard((err: Error) => http2Broken(String((err as { code?: string }).code ?? err.message), err)));
      opened.on('close', guard(() => {
        // The agent ended the session (GOAWAY) but not the WebSocket: the tunnel can serve nothing more.
        if (broken || ws.readyState !== WebSocket.OPEN) return;
        log.info('the agent ended the tunnel\'s HTTP/2 session; closing the tunnel');
        deps.tunnels.remove(tunnel, deps.now());
        ws.close(1000, 'the HTTP/2 session ended');
      }));
      return opened;
    };

    const preface = prefaceWatch(PREFACE_WITHIN_MS, (problem) => breach({ reason: 'not_http2', code: CLOSE.protocol, message: `the agent does not speak HTTP/2: ${problem}` }));
    ws.on('message', guard((data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) return breach({ reason: 'text_message', code: CLOSE.unsupportedData, message: 'the tunnel carries binary messages only' });
      preface.feed(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    }));
    ws.on('error', guard((err: Error) => breach(breachOfWebSocket(err))));
    let alive = true;
    ws.on('pong', () => (alive = true));
    pinger = setInterval(guard(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }), PING_EVERY_MS);
    ws.on('close', guard(() => {
      clearInterval(pinger);
      preface.stop();
      if (session && !session.destroyed) session.destroy();
      deps.tunnels.remove(tunnel, deps.now());
      log.info('agent disconnected');
    }));
    deps.tunnels.add(tunnel);
    log.info({ labels }, 'agent connected');
  }
}

/** An upgrade to the direct transport (tunnel-stream.ts); anything else goes to the WebSocket server, which refuses what is no WebSocket. */
function isDirect(req: IncomingMessage): boolean {
  return req.headers.upgrade?.trim().toLowerCase() === TUNNEL_UPGRADE;
}

/** 409 with this replica's id, so the agent knows whom it reached again and dials on. */
function refuseDuplicate(socket: Duplex, self: string): void {
  const body = JSON.stringify(kubeStatus(409, `this agent holds a tunnel to replica ${self} already`));
  socket.end(
    `HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n${TUNNEL_HEADERS.replicaId}: ${self}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The name an unverified client certificate gives, for the audit event of its refusal; "-" without one. */
function claimedName(socket: TLSSocket): string {
  const cn = socket.getPeerCertificate?.()?.subject?.CN as string | string[] | undefined;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name ? name.slice(0, 256) : '-';
}
