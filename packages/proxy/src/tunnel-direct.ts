// The direct transport of /v1/tunnel (tunnel-stream.ts): after an HTTP/1.1
// upgrade to TUNNEL_UPGRADE that tunnel-server.ts has authenticated, the
// agent's TLS socket goes to node:http2 as it is, so HTTP/2 frames move
// between TLS and nghttp2 in native code, with no WebSocket framing and no
// JavaScript stream in between.
//
// The protections are those of the WebSocket transport, carried by HTTP/2
// itself: the agent's first frame must be SETTINGS (nghttp2 checks it) and
// come within `prefaceWithinMs`; frame, header and session sizes are
// nghttp2's and Node's limits; an agent that breaks HTTP/2 makes the session
// fail; a ping unanswered ends the tunnel (TUNNEL_PING_MS says why that also
// covers Node 20's silent GOAWAY). A breach ends this tunnel only, audited.
//
// Unlike the WebSocket transport, the session opens with the tunnel: the
// pings that keep the tunnel alive need it.
import { connect, constants } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { openTunnelWindow, pingWatch, TUNNEL_H2_SETTINGS, TUNNEL_UPGRADE } from '@ztsh/protocol';
import type { AgentTunnel, AgentTunnels } from './agent-tunnels.ts';
import type { TunnelAudit } from './tunnel-breach.ts';
import { guardHandlers } from './guard-handlers.ts';

export interface DirectTunnelDeps {
  tunnels: AgentTunnels;
  audit: TunnelAudit;
  auditFailed: (err: unknown) => void;
  now: () => Date;
  log: Logger;
  prefaceWithinMs: number;
  pingEveryMs: number;
}

export interface TunnelPeer {
  cluster: string;
  hostId: string;
  labels: Record<string, string>;
  clientIp: string;
}

/** Answers 101 with `headers` ("name: value" lines), then serves the tunnel over HTTP/2 on `socket`. */
export function acceptDirect(deps: DirectTunnelDeps, socket: TLSSocket, who: TunnelPeer, headers: string[]): void {
  const log = deps.log.child({ cluster: who.cluster, hostId: who.hostId, transport: 'direct' });
  const answer = `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_UPGRADE}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  // node:http2 takes the socket only once the 101 is written: a write of ours still in
  // flight when its session starts writing aborts the process (a native assertion).
  socket.write(answer, (err) => {
    if (err || socket.destroyed) return void socket.destroy();
    try {
      serve(deps, socket, who, log);
    } catch (error) {
      log.error({ err: error }, 'tunnel could not be set up');
      socket.destroy();
    }
  });
}

function serve(deps: DirectTunnelDeps, socket: TLSSocket, who: TunnelPeer, log: Logger): void {
  const { cluster, hostId, labels, clientIp } = who;
  // No server push: the agent has nothing to push, and a PUSH_PROMISE is then a protocol error.
  // From here on nothing but the session writes to the socket.
  const session = connect('http://agent.ztsh.invalid', { createConnection: () => socket, settings: { ...TUNNEL_H2_SETTINGS, enablePush: false } });
  let broken = false;
  let settings = false;
  const tunnel: AgentTunnel = { cluster, hostId, labels, session, connectedAt: deps.now(), close: () => session.destroy() };

  /** Ends this tunnel, once, for what the agent did: audit event, log line, every request in flight failed. */
  const breach = (reason: string, message: string, err?: unknown): void => {
    if (broken) return;
    broken = true;
    try {
      stop();
      deps.tunnels.remove(tunnel, deps.now());
      log.warn({ reason, err, clientIp }, 'tunnel closed: the agent broke the tunnel protocol');
      const stored = deps.audit('tunnel.closed', { user: hostId, clientIp, message, fields: { cluster, hostId, reason, transport: 'direct' } });
      if (stored instanceof Promise) stored.catch(deps.auditFailed);
    } finally {
      // With an error, so every request in flight fails (502) instead of waiting.
      if (!session.destroyed) session.destroy(new Error(`tunnel closed: ${message}`), constants.NGHTTP2_PROTOCOL_ERROR);
      socket.destroy();
    }
  };
  /** Whatever a handler of this tunnel throws ends this tunnel, not ztshd. */
  const guard = guardHandlers((err) => breach('internal_error', 'the proxy could not handle what the agent sent', err));

  const preface = setTimeout(guard(() => breach('not_http2', `the agent does not speak HTTP/2: no SETTINGS frame within ${deps.prefaceWithinMs / 1000} s`)), deps.prefaceWithinMs);
  preface.unref();
  const stopPings = pingWatch(session, deps.pingEveryMs, guard(() => {
    log.warn({ clientIp }, 'the agent did not answer a ping; closing the tunnel');
    deps.tunnels.remove(tunnel, deps.now());
    session.destroy(new Error('tunnel closed: the agent did not answer a ping'));
    socket.destroy();
  }));
  const stop = () => {
    clearTimeout(preface);
    stopPings();
  };

  session.once('remoteSettings', guard(() => {
    settings = true;
    clearTimeout(preface);
  }));
  session.once('connect', guard(() => openTunnelWindow(session)));
  session.on('error', guard((err: Error) => {
    const code = String((err as { code?: string }).code ?? err.message);
    // Before its SETTINGS the agent has said nothing that is HTTP/2 (nghttp2 wants SETTINGS first).
    if (settings) breach('http2_error', `the agent broke the HTTP/2 protocol (${code})`, err);
    else breach('not_http2', `the agent does not speak HTTP/2 (${code})`, err);
  }));
  session.on('close', guard(() => {
    stop();
    deps.tunnels.remove(tunnel, deps.now());
    socket.destroy();
    if (!broken) log.info('agent disconnected');
  }));
  deps.tunnels.add(tunnel);
  log.info({ labels }, 'agent connected');
}
