// A proxy that runs apart from auth still is the one address users know:
// what is not its own (login, the web page, the auditors' and admins' APIs,
// joins) it forwards to auth on its own connection, saying who the client
// is: its IP, and the client certificate it showed here, if any. Bodies
// stream both ways (an audit export may follow for hours). The internal
// routes are not forwarded: only the proxy itself speaks them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { FORWARDED_HEADERS, HOP_BY_HOP_HEADERS, INTERNAL_PREFIX } from '@ztsh/protocol';
import type { HttpAuthClient } from './http-auth-client.ts';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

function sendError(res: Res, status: number, code: string, message: string, hint?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
}

/** The client's address: the last X-Forwarded-For hop when a load balancer in front is trusted, else the socket's. */
export function clientAddress(req: Req, trustProxy: boolean): string {
  if (trustProxy) {
    const hops = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    if (hops.length > 0) return hops[hops.length - 1]!;
  }
  return req.socket.remoteAddress ?? '';
}

export function authForwarder(auth: HttpAuthClient, options: { trustProxy: boolean; log: Logger }) {
  return (req: Req, res: Res): void => {
    const url = req.url ?? '/';
    if (url.startsWith(INTERNAL_PREFIX) || url === INTERNAL_PREFIX.slice(0, -1)) {
      return sendError(res, 404, 'not_found', `nothing at ${url.split('?')[0]}`);
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(':') || HOP_BY_HOP_HEADERS.has(name) || name.startsWith('x-ztsh-')) continue;
      headers[name] = value;
    }
    const authority = req.headers[':authority'] ?? req.headers.host;
    if (typeof authority === 'string') headers.host = authority;
    headers[FORWARDED_HEADERS.clientIp] = clientAddress(req, options.trustProxy);
    const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
    if (peer) headers[FORWARDED_HEADERS.clientCert] = peer.raw.toString('base64');

    const upstream = auth.forward({ method: req.method ?? 'GET', path: url, headers });
    upstream.on('error', (error) => {
      options.log.warn({ err: error, url: url.split('?')[0] }, 'forwarding to the auth service failed');
      sendError(res, 502, 'bad_gateway', 'the auth service cannot be reached from this proxy', 'try again in a moment; if it lasts, the operator should check the auth service');
    });
    upstream.on('response', (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value === undefined || HOP_BY_HOP_HEADERS.has(name)) continue;
        out[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, out);
      (res as { flushHeaders?: () => void }).flushHeaders?.();
      answer.pipe(res as NodeJS.WritableStream);
      answer.on('error', () => res.destroy());
    });
    res.on('close', () => {
      if (!upstream.writableFinished || !res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
}
