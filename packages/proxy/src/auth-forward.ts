// A proxy that runs apart from auth still is the one address users know:
// what is not its own (login, the web page, the auditors' and admins' APIs,
// joins) it forwards to auth on its own connection, saying who the client
// is: its IP, and the client certificate it showed here, if any. Bodies
// stream both ways (an audit export may follow for hours). The internal
// routes are not forwarded: only the proxy itself speaks them. The path is
// judged in the form auth would act on (decoded, any case): a path that
// cannot be made canonical without guessing is refused outright.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { BODILESS_METHODS, copyHeaders, dropHopByHop, dropTowardsAuth, FORWARDED_HEADERS, frameBody, mayHaveBody, INTERNAL_PREFIX } from '@ztsh/protocol';
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

export type PathVerdict = { ok: true } | { ok: false; status: 400 | 404; message: string };

const INTERNAL = INTERNAL_PREFIX.split('/').filter(Boolean).map((s) => s.toLowerCase());

/**
 * Whether a request target may go on to auth. Refused with 400: anything but
 * a plain absolute path, control characters or spaces, a backslash, a bad
 * escape, an encoded "/" or "\\", an empty segment inside the path, a "." or
 * ".." segment however spelled. Refused with 404: whatever names the internal
 * API once decoded (repeatedly), in any case, with or without ";" parameters.
 */
export function forwardablePath(target: string): PathVerdict {
  const bad = (message: string): PathVerdict => ({ ok: false, status: 400, message });
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\x00-\x20\x7f]/.test(target)) return bad('the request path holds control characters or spaces');
  if (!target.startsWith('/')) return bad('the request target must be a path starting with /');
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  if (/[\\#]/.test(path)) return bad('the request path holds a backslash or "#"');
  if (/%(?![0-9a-fA-F]{2})/.test(path)) return bad('the request path holds a bad percent-escape');
  if (/%(2f|5c)/i.test(path)) return bad('the request path holds an encoded "/" or "\\"');
  const segments = path.slice(1).split('/');
  const decoded: string[] = [];
  for (const [i, segment] of segments.entries()) {
    if (segment === '' && i < segments.length - 1) return bad('the request path holds an empty segment ("//")');
    let text: string;
    try {
      text = decodeURIComponent(segment);
    } catch {
      return bad('the request path does not decode as UTF-8');
    }
    // eslint-disable-next-line no-control-regex -- as above, once decoded
    if (/[\x00-\x1f\x7f]/.test(text)) return bad('the request path holds encoded control characters');
    if (text === '.' || text === '..') return bad('the request path holds a "." or ".." segment');
    decoded.push(text);
  }
  // Decoded again and again, so %2569nternal is caught too; lower-cased, and
  // cut at ";", so no spelling of the internal prefix slips through.
  let canonical = decoded.join('/');
  for (let round = 0; round < 4 && canonical.includes('%'); round++) {
    try {
      canonical = decodeURIComponent(canonical);
    } catch {
      break;
    }
  }
  const names = canonical.split('/').map((s) => s.split(';')[0]!.trim().toLowerCase());
  if (INTERNAL.every((name, i) => names[i] === name)) return { ok: false, status: 404, message: `nothing at ${path}` };
  return { ok: true };
}

const FORWARDED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

export function authForwarder(auth: HttpAuthClient, options: { trustProxy: boolean; log: Logger }) {
  return (req: Req, res: Res): void => {
    const url = req.url ?? '/';
    const verdict = forwardablePath(url);
    if (!verdict.ok) {
      options.log.info({ status: verdict.status, reason: verdict.message }, 'request path refused before forwarding to auth');
      return verdict.status === 404
        ? sendError(res, 404, 'not_found', verdict.message)
        : sendError(res, 400, 'bad_request', verdict.message, 'send the path as a plain, canonical one');
    }
    const headers: Record<string, string | string[]> = copyHeaders(req.headers, dropTowardsAuth);
    const authority = req.headers[':authority'] ?? req.headers.host;
    if (typeof authority === 'string') headers.host = authority;
    headers[FORWARDED_HEADERS.clientIp] = clientAddress(req, options.trustProxy);
    const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
    if (peer) headers[FORWARDED_HEADERS.clientCert] = peer.raw.toString('base64');

    // The connection to auth is kept alive and speaks with the proxy's own
    // certificate: bytes of a body it did not frame would be read there as a
    // request of the proxy's. GET and HEAD carry none; every other body is framed.
    const method = req.method ?? 'GET';
    // Exactly the methods auth serves, as written: HTTP/2 lets a client send "get",
    // which Node would pass on as GET after the checks below had judged "get".
    if (!FORWARDED_METHODS.has(method)) return sendError(res, 405, 'method_not_allowed', `the method ${method.slice(0, 16)} is not served here`);
    const endedWithHeaders = 'stream' in req ? req.stream.endAfterHeaders : undefined;
    if (BODILESS_METHODS.has(method) && mayHaveBody(req.headers, endedWithHeaders)) {
      return sendError(res, 400, 'bad_request', `a ${method} request carries no body`);
    }
    const sendsBody = frameBody(method, req.headers, headers);
    // A body's length matches its Content-Length: Node's HTTP/1.1 and HTTP/2 parsers hold the client to it.
    const upstream = auth.forward({ method, path: url, headers });
    upstream.on('error', (error) => {
      options.log.warn({ err: error, url: url.split('?')[0] }, 'forwarding to the auth service failed');
      sendError(res, 502, 'bad_gateway', 'the auth service cannot be reached from this proxy', 'try again in a moment; if it lasts, the operator should check the auth service');
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, copyHeaders(answer.headers, dropHopByHop));
      (res as { flushHeaders?: () => void }).flushHeaders?.();
      answer.pipe(res as NodeJS.WritableStream);
      answer.on('error', () => res.destroy());
    });
    res.on('close', () => {
      if (!upstream.writableFinished || !res.writableFinished) upstream.destroy();
    });
    if (sendsBody) req.pipe(upstream);
    else {
      req.resume();
      upstream.end();
    }
  };
}
