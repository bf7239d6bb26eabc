// One dial of the proxy's /v1/tunnel, over either transport (tunnel-stream.ts
// in @ztsh/protocol): the upgrade's answer goes to `events`, and a tunnel
// that is up is handed over as an OpenTunnel, whose `socket` node:http2 takes.
//   direct     HTTP/1.1 Upgrade: ztsh-tunnel-h2; after the 101 the TLS socket
//              itself carries HTTP/2 (this side speaks only after reading the
//              101; bytes of the proxy's that came with it are handed back).
//   websocket  wss; HTTP/2 in binary messages through a JavaScript stream.
import type { IncomingHttpHeaders } from 'node:http';
import type { ServerHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocket } from 'ws';
import { goawayWatch, pingWatch, TUNNEL_MAX_PAYLOAD, TUNNEL_PING_MS, TUNNEL_UPGRADE, tunnelStream } from '@ztsh/protocol';

export interface DialRequest {
  url: URL;
  tls: { cert: string; key: string; ca?: string };
  headers: Record<string, string>;
}

export interface DialEvents {
  /** The proxy accepted: `headers` are those of its 101. */
  open(tunnel: OpenTunnel, headers: IncomingHttpHeaders): void;
  /** The proxy (or something on the way) answered with another status. */
  refused(status: number, headers: IncomingHttpHeaders): void;
  /** No answer: the connection failed or closed first. */
  failed(err: Error): void;
}

export interface OpenTunnel {
  /** What node:http2 serves the proxy on. */
  readonly socket: Duplex;
  /** Told the HTTP/2 session once it is made. */
  started(session: ServerHttp2Session): void;
  /** Ends the tunnel; `normal`: a regular end (the replica left, a duplicate), not a fault. */
  close(why: string, normal?: boolean): void;
  terminate(): void;
  /** Runs once the tunnel is down. */
  ended(listener: () => void): void;
}

export interface Dial {
  abort(): void;
}

export function dialDirect(request: DialRequest, events: DialEvents, log: Logger): Dial {
  const req = httpsRequest(request.url, {
    method: 'GET',
    agent: false,
    ...request.tls,
    headers: { ...request.headers, connection: 'Upgrade', upgrade: TUNNEL_UPGRADE },
  });
  let done = false;
  const once = (act: () => void) => {
    if (done) return;
    done = true;
    act();
  };
  req.on('upgrade', (res, raw, head) => {
    const socket = raw as TLSSocket;
    if (res.statusCode !== 101 || res.headers.upgrade?.trim().toLowerCase() !== TUNNEL_UPGRADE) {
      socket.destroy();
      return once(() => events.failed(new Error(`the proxy switched to ${JSON.stringify(res.headers.upgrade ?? '')}, not ${TUNNEL_UPGRADE}`)));
    }
    socket.on('error', (err) => log.debug({ err }, 'tunnel socket error'));
    socket.setNoDelay(true);
    // The proxy's first HTTP/2 bytes may have come with the 101: node:http2 reads what the socket holds first.
    if (head.length > 0) socket.unshift(head);
    let stopPings = () => undefined as void;
    const tunnel: OpenTunnel = {
      socket,
      started(session) {
        stopPings = pingWatch(session, TUNNEL_PING_MS, () => {
          log.warn('the proxy did not answer a ping; closing the tunnel');
          socket.destroy();
        });
      },
      // No close handshake to make: the proxy sees the connection end (node:http2 owns the socket's writes).
      close: (why) => {
        log.debug({ why }, 'closing the tunnel');
        socket.destroy();
      },
      terminate: () => socket.destroy(),
      ended: (listener) => socket.once('close', listener),
    };
    socket.once('close', () => stopPings());
    once(() => events.open(tunnel, res.headers));
  });
  req.on('response', (res) => {
    res.resume();
    req.destroy();
    once(() => events.refused(res.statusCode ?? 0, res.headers));
  });
  req.on('error', (err) => once(() => events.failed(err)));
  req.on('close', () => once(() => events.failed(new Error('the connection closed before the proxy answered'))));
  req.end();
  return { abort: () => req.destroy() };
}

export function dialWebSocket(request: DialRequest, events: DialEvents, log: Logger): Dial {
  const socket = new WebSocket(new URL(request.url.toString().replace(/^http/, 'ws')), {
    ...request.tls,
    headers: request.headers,
    perMessageDeflate: false,
    maxPayload: TUNNEL_MAX_PAYLOAD,
  });
  let answer: IncomingHttpHeaders | undefined;
  let refused = false;
  socket.on('upgrade', (res) => (answer = res.headers));
  socket.on('open', () => {
    // The agent's nghttp2 answers a proxy that breaks HTTP/2 with GOAWAY and then waits: end the tunnel and dial again.
    const watch = goawayWatch(false, (errorCode) => {
      if (errorCode === 0) return;
      log.warn({ errorCode }, 'the proxy broke the HTTP/2 protocol; closing the tunnel');
      // Later, not inside the session's own write.
      setImmediate(() => socket.close(1002, 'the proxy broke the HTTP/2 protocol'));
    });
    const stream = tunnelStream(createWebSocketStream(socket), socket, watch);
    stream.on('error', () => undefined);
    socket.on('message', (_data, isBinary) => {
      if (!isBinary && socket.readyState === WebSocket.OPEN) {
        log.warn('the proxy sent a text message on the tunnel; closing it');
        socket.close(1003, 'the tunnel carries binary messages only');
      }
    });
    const tunnel: OpenTunnel = {
      socket: stream,
      started: () => undefined,
      close: (why, normal) => {
        if (socket.readyState === WebSocket.OPEN) socket.close(normal ? 1000 : 1002, why);
        else socket.terminate();
      },
      terminate: () => socket.terminate(),
      ended: (listener) => socket.once('close', listener),
    };
    events.open(tunnel, answer ?? {});
  });
  socket.on('unexpected-response', (_req, res) => {
    refused = true;
    events.refused(res.statusCode ?? 0, res.headers);
    socket.terminate();
  });
  socket.on('error', (err) => {
    if (!refused) log.warn({ err: err.message }, 'tunnel error');
  });
  socket.on('close', () => {
    if (!refused) events.failed(new Error('tunnel closed before it was up'));
  });
  return { abort: () => socket.terminate() };
}
