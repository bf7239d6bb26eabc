// Serves the proxy's requests that arrive as HTTP/2 streams on the tunnel:
// each goes to the apiserver with the agent's own credentials and the
// identity the proxy decided, as Impersonate-User / Impersonate-Group.
// Whatever identity headers came from the client were dropped by the proxy,
// and are dropped here again.
import type { IncomingMessage } from 'node:http';
import { request, Agent as HttpsAgent } from 'node:https';
import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import { PassThrough, type Duplex, type Readable, type Writable } from 'node:stream';
import type { Logger } from 'pino';
import { copyHeaders, dropHopByHop, dropTowardsCluster, frameBody, ImpersonatedGroups, kubeStatus, readJsonHeader, TUNNEL_HEADERS } from '@ztsh/protocol';
import { kubeAuthorization, kubeTls, type KubeTarget } from './config.ts';
import { createApiserverConnections } from './apiserver-h2.ts';
import type { AgentMetrics } from './metrics.ts';

export function createForwarder(target: KubeTarget, log: Logger, metrics?: AgentMetrics) {
  const agent = new HttpsAgent({ keepAlive: true, ...kubeTls(target) });
  const host = target.server.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.server.port || 443);
  // Set explicitly, or Node would take it from the client's Host header. An
  // IP address is no server name (RFC 6066): send none, check the IP SAN.
  const servername = isIP(host) ? '' : host;
  const base = { host, port, agent, servername };
  // Plain requests share one HTTP/2 connection when the apiserver speaks it; upgrades need HTTP/1.1.
  const connections = createApiserverConnections({ host, port, servername, tls: kubeTls(target) }, log);
  const authority = target.server.host;

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
    let upstream: Writable & { destroy(): unknown } | undefined;
    const failed = (error: Error) => {
      log.warn({ err: error, path }, 'apiserver request failed');
      metrics?.request(kind, 502);
      answer(stream, 502, `the agent could not reach the apiserver: ${error.message}`);
    };
    function send(mayRetry: boolean) {
      const req = request({ ...base, method, path, headers: out });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (mayRetry && retryable && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE') && !stream.destroyed) {
          log.debug({ path }, 'a kept-alive apiserver connection was closed under the request; sending it again');
          upstream = send(false);
          upstream.end();
          return;
        }
        failed(error);
      });
      req.on('response', (res) => onResponse(res.statusCode ?? 502, res.headers, res));
      req.on('upgrade', (res, socket, head) => onUpgrade(res, socket, head));
      return req;
    }
    /**
     * The same over the pooled HTTP/2 connection. HTTP/2 frames the body
     * itself: no Transfer-Encoding (it may not be sent), a Content-Length
     * stays and nghttp2 holds the DATA to it. A GET or HEAD that fails
     * before its answer (the apiserver closed the connection, refused the
     * stream) is sent once more on a new connection.
     */
    function sendH2(session: ClientHttp2Session, mayRetry: boolean): Writable & { destroy(): unknown } {
      delete out['transfer-encoding'];
      out[constants.HTTP2_HEADER_METHOD] = method;
      out[constants.HTTP2_HEADER_PATH] = path;
      out[constants.HTTP2_HEADER_AUTHORITY] = authority;
      let answered = false;
      const retry = (error: Error) => {
        if (!mayRetry || !retryable || stream.destroyed) return false;
        log.debug({ err: error, path }, 'the apiserver connection ended under the request; sending it again');
        void connections.session().then(
          (again) => {
            if (stream.destroyed) return;
            if (!again) return failed(error);
            upstream = sendH2(again, false);
          },
          failed,
        );
        return true;
      };
      let req: ClientHttp2Stream;
      try {
        req = session.request(out, { endStream: !sendsBody });
      } catch (error) {
        // The session closed between the pool handing it out and this request.
        if (!retry(error as Error)) failed(error as Error);
        return new PassThrough();
      }
      const ended = (error: Error) => {
        if (answered) return;
        answered = true; // one outcome per request: the error and the close after it are one event
        if (!retry(error)) failed(error);
      };
      req.on('error', ended);
      // A stream reset with NO_ERROR closes with no 'error': it still gets an answer.
      req.on('close', () => ended(new Error('the apiserver closed the stream without an answer')));
      req.on('response', (h) => {
        answered = true;
        onResponse(Number(h[constants.HTTP2_HEADER_STATUS] ?? 502), h, req);
      });
      if (sendsBody) pipeBody(req);
      return req;
    }
    const onResponse = (status: number, headers: IncomingHttpHeaders, body: Readable) => {
      metrics?.request(kind, status);
      const back = copyHeaders(headers, dropHopByHop, { ':status': status });
      if (stream.destroyed) return body.destroy();
      try {
        stream.respond(back);
      } catch (error) {
        // The stream went away meanwhile, or the apiserver sent a header HTTP/2 cannot carry.
        log.warn({ err: error, path }, 'the apiserver\'s answer could not be passed back');
        body.destroy();
        return stream.destroy();
      }
      if (metrics) body.on('data', (chunk: Buffer) => metrics.bytes('from_apiserver', chunk.length));
      body.pipe(stream);
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
        socket.on('data', (chunk: Buffer) => metrics.bytes('to_apiserver', chunk.length));
        stream.on('data', (chunk: Buffer) => metrics.bytes('to_apiserver', chunk.length));
      }
      socket.pipe(stream);
      stream.pipe(socket);
      stream.on('close', () => socket.destroy());
      socket.on('close', () => stream.end());
    };
    /** The request body, as it comes, once: a retried request has none (only GET and HEAD are retried). */
    const pipeBody = (to: Writable) => {
      if (metrics) stream.on('data', (chunk: Buffer) => metrics.bytes('to_apiserver', chunk.length));
      stream.pipe(to);
    };
    stream.on('close', () => upstream?.destroy());
    if (!sendsBody) stream.resume(); // whatever a bodiless request's stream still carries is dropped
    if (kind === 'upgrade') {
      upstream = send(true);
      upstream.end();
      return;
    }
    connections.session().then(
      (session) => {
        if (stream.destroyed) return;
        if (session) {
          upstream = sendH2(session, true);
          return;
        }
        upstream = send(true);
        if (sendsBody) pipeBody(upstream);
        else upstream.end();
      },
      (error: Error) => {
        if (!stream.destroyed) failed(error);
      },
    );
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
