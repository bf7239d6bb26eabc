// Serves the proxy's requests that arrive as HTTP/2 streams on the tunnel:
// each goes to the apiserver with the agent's own credentials and the
// identity the proxy decided, as Impersonate-User / Impersonate-Group.
// Whatever identity headers came from the client were dropped by the proxy,
// and are dropped here again.
import type { IncomingMessage } from 'node:http';
import { request, Agent as HttpsAgent } from 'node:https';
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { copyHeaders, dropHopByHop, dropTowardsCluster, frameBody, ImpersonatedGroups, kubeStatus, readJsonHeader, TUNNEL_HEADERS } from '@ztsh/protocol';
import { kubeAuthorization, kubeTls, type KubeTarget } from './config.ts';
import type { AgentMetrics } from './metrics.ts';

export function createForwarder(target: KubeTarget, log: Logger, metrics?: AgentMetrics) {
  const agent = new HttpsAgent({ keepAlive: true, ...kubeTls(target) });
  const host = target.server.hostname.replace(/^\[|\]$/g, '');
  // Set explicitly, or Node would take it from the client's Host header. An
  // IP address is no server name (RFC 6066): send none, check the IP SAN.
  const base = { host, port: Number(target.server.port || 443), agent, servername: isIP(host) ? '' : host };

  const forward = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', (err) => log.debug({ err, path: headers[constants.HTTP2_HEADER_PATH] }, 'tunnel stream error'));
    const method = String(headers[constants.HTTP2_HEADER_METHOD] ?? 'GET');
    const path = String(headers[constants.HTTP2_HEADER_PATH] ?? '/');
    const user = headers[TUNNEL_HEADERS.impersonateUser];
    const groups = readJsonHeader(ImpersonatedGroups, headers[TUNNEL_HEADERS.impersonateGroups], []);
    if (typeof user !== 'string' || !user) return answer(stream, 400, 'the proxy sent no identity to impersonate');
    if (!groups) return answer(stream, 400, 'the proxy sent groups to impersonate that are no JSON array of strings');
    if (!path.startsWith('/')) return answer(stream, 400, 'the proxy sent a path that does not start with /');
    const out: Record<string, string | string[]> = copyHeaders(headers, dropTowardsCluster);
    const authorization = kubeAuthorization(target);
    if (authorization) out.authorization = authorization;
    out['impersonate-user'] = user;
    if (groups.length > 0) out['impersonate-group'] = groups;
    const upgrade = headers[TUNNEL_HEADERS.upgrade];
    let sendsBody = false;
    if (typeof upgrade === 'string') {
      out.connection = 'Upgrade';
      out.upgrade = upgrade;
      // An upgrade carries no body: a stray length would leave the apiserver waiting for one.
      delete out['content-length'];
    } else {
      // Every body framed, GET and HEAD with none: unframed bytes on a kept-alive
      // connection would be read as the next request, with this agent's credentials.
      sendsBody = frameBody(method, headers, out);
    }

    // The stream's DATA never exceeds a Content-Length it came with: nghttp2
    // checks it on the tunnel, as Node's HTTP parsers do at the proxy's door.
    const kind = typeof upgrade === 'string' ? 'upgrade' : 'plain';
    // A kept-alive connection the apiserver closed as idle just as this request
    // went out on it fails with a reset before any answer. The request never
    // reached the apiserver then, so a GET or HEAD is sent once more on a new
    // connection (Node's documented reusedSocket pattern); anything else is
    // answered 502, as it might have been acted on.
    const retryable = kind === 'plain' && (method === 'GET' || method === 'HEAD');
    let upstream = send(true);
    function send(mayRetry: boolean) {
      const req = request({ ...base, method, path, headers: out });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (mayRetry && retryable && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE') && !stream.destroyed) {
          log.debug({ path }, 'a kept-alive apiserver connection was closed under the request; sending it again');
          upstream = send(false);
          upstream.end();
          return;
        }
        log.warn({ err: error, path }, 'apiserver request failed');
        metrics?.request(kind, 502);
        answer(stream, 502, `the agent could not reach the apiserver: ${error.message}`);
      });
      req.on('response', (res) => onResponse(res));
      req.on('upgrade', (res, socket, head) => onUpgrade(res, socket, head));
      return req;
    }
    const onResponse = (res: IncomingMessage) => {
      metrics?.request(kind, res.statusCode ?? 502);
      const back: Record<string, string | string[] | number> = { ':status': res.statusCode ?? 502, ...copyHeaders(res.headers, dropHopByHop) };
      if (stream.destroyed) return res.destroy();
      try {
        stream.respond(back);
      } catch (error) {
        // The stream went away meanwhile, or the apiserver sent a header HTTP/2 cannot carry.
        log.warn({ err: error, path }, 'the apiserver\'s answer could not be passed back');
        res.destroy();
        return stream.destroy();
      }
      if (metrics) res.on('data', (chunk: Buffer) => metrics.bytes('from_apiserver', chunk.length));
      res.pipe(stream);
    };
    const onUpgrade = (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      metrics?.request('upgrade', res.statusCode ?? 101);
      socket.on('error', () => stream.destroy());
      const back: Record<string, string | number> = { ':status': 200, [TUNNEL_HEADERS.upstreamStatus]: String(res.statusCode ?? 101) };
      for (const name of ['sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions', 'x-stream-protocol-version']) {
        const value = res.headers[name];
        if (typeof value === 'string') back[name] = value;
      }
      if (stream.destroyed) return socket.destroy();
      try {
        stream.respond(back);
      } catch (error) {
        log.warn({ err: error, path }, 'the apiserver\'s upgrade could not be passed back');
        socket.destroy();
        return stream.destroy();
      }
      if (head.length > 0) stream.write(head);
      if (metrics) {
        metrics.bytes('from_apiserver', head.length);
        socket.on('data', (chunk: Buffer) => metrics.bytes('from_apiserver', chunk.length));
        stream.on('data', (chunk: Buffer) => metrics.bytes('to_apiserver', chunk.length));
      }
      socket.pipe(stream);
      stream.pipe(socket);
      stream.on('close', () => socket.destroy());
      socket.on('close', () => stream.end());
    };
    if (sendsBody) {
      if (metrics) stream.on('data', (chunk: Buffer) => metrics.bytes('to_apiserver', chunk.length));
      stream.pipe(upstream);
    }
    else {
      stream.resume(); // whatever a bodiless request's stream still carries is dropped
      upstream.end();
    }
    stream.on('close', () => upstream.destroy());
  };

  // Whatever the proxy sends, a request it makes of the agent cannot throw out of the agent:
  // a method or path Node refuses to send, say, is answered with a 400 Status.
  return (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    try {
      forward(stream, headers);
    } catch (error) {
      log.warn({ err: error }, 'a request from the proxy could not be forwarded');
      answer(stream, 400, 'the agent cannot forward this request');
    }
  };
}

/** Answers the proxy with a Status, or ends the stream if it can take no answer any more. */
function answer(stream: ServerHttp2Stream, code: number, message: string): void {
  try {
    if (stream.destroyed || stream.headersSent) return void stream.destroy();
    stream.respond({ ':status': code, 'content-type': 'application/json' });
    stream.end(JSON.stringify(kubeStatus(code, message)));
  } catch {
    stream.destroy();
  }
}
