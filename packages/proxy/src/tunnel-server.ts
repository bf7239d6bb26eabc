// /v1/tunnel: where agents dial in. The agent authenticates with its host
// certificate; the WebSocket then carries an HTTP/2 connection on which the
// proxy is the client and the agent the server, so one tunnel multiplexes
// many kube requests with HTTP/2's per-stream flow control.
import { connect, type ClientHttp2Session } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { z } from 'zod';
import type { AgentTunnels, AgentTunnel } from './agent-tunnels.ts';
import { refuseUpgrade } from './kube-status.ts';
import { openTunnelWindow, peerIdentity, TUNNEL_H2_SETTINGS, tunnelStream } from '@ztsh/protocol';

const Labels = z.record(z.string().max(63), z.string().max(63));
const PING_EVERY_MS = 10_000;

export interface TunnelServerDeps {
  tunnels: AgentTunnels;
  hostCaCertificates: () => string[];
  now: () => Date;
  log: Logger;
}

export function tunnelServer(deps: TunnelServerDeps) {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  return {
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const peer = peerIdentity(req.socket as TLSSocket, deps.hostCaCertificates(), deps.now());
      if (!peer.ok || peer.identity.host?.role !== 'agent' || !peer.identity.host.cluster) {
        deps.log.warn({ reason: peer.ok ? 'not_an_agent' : peer.reason }, 'tunnel refused');
        refuseUpgrade(socket, 401, 'an agent host certificate is required');
        return;
      }
      let labels: Record<string, string> = {};
      try {
        labels = Labels.parse(JSON.parse(String(req.headers['x-ztsh-labels'] ?? '{}')));
      } catch {
        refuseUpgrade(socket, 400, 'x-ztsh-labels must be a JSON object of strings');
        return;
      }
      const cluster = peer.identity.host.cluster;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = tunnelStream(createWebSocketStream(ws), ws);
        stream.on('error', () => undefined);
        // HTTP/2 starts at the tunnel's first request: a session costs the proxy ~30 KiB
        // (nghttp2's frame buffer among it), and most of a large fleet's tunnels sit idle.
        // Until then the agent's SETTINGS wait in the stream.
        let session: ClientHttp2Session | undefined;
        const openSession = (): ClientHttp2Session => {
          const opened = connect('http://agent.ztsh.invalid', { createConnection: () => stream, settings: TUNNEL_H2_SETTINGS });
          opened.once('connect', () => openTunnelWindow(opened));
          opened.on('error', (err) => deps.log.warn({ cluster, err }, 'tunnel session error'));
          return opened;
        };
        const tunnel: AgentTunnel = {
          cluster,
          hostId: peer.identity.user,
          labels,
          get session() {
            return (session ??= openSession());
          },
          connectedAt: deps.now(),
          close: () => ws.terminate(),
        };
        let alive = true;
        ws.on('pong', () => (alive = true));
        const pinger = setInterval(() => {
          if (!alive) return ws.terminate();
          alive = false;
          ws.ping();
        }, PING_EVERY_MS);
        const gone = () => {
          clearInterval(pinger);
          if (session && !session.destroyed) session.destroy();
          deps.tunnels.remove(tunnel, deps.now());
          deps.log.info({ cluster, hostId: tunnel.hostId }, 'agent disconnected');
        };
        ws.on('close', gone);
        deps.tunnels.add(tunnel);
        deps.log.info({ cluster, hostId: tunnel.hostId, labels }, 'agent connected');
      });
    },
    close(): void {
      wss.close();
    },
  };
}
