// /healthz, /readyz and /metrics: what Kubernetes probes and Prometheus ask
// of ztshd and the agent, on the main listener or on an operations listener
// of their own (plain HTTP on a non-public address).
//
//   /healthz   200 "ok" while the process and its event loop answer
//   /readyz    200 "ok" when it can serve, else 503 "not ready: <reason>"
//   /metrics   Prometheus text; with a token, only for Authorization: Bearer <token>
//
// Health answers need no credentials, so they say nothing an attacker could
// use: the reasons are short fixed phrases the caller picks, never an error
// message, an address or a version.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/** host:port of an operations listener, as config files write it ("[::1]:9464" for IPv6). */
export const ListenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9464')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0 to 65535');

/** What prom-client's Registry offers, so this file needs no metrics library. */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

export interface OpsEndpointsOptions {
  /** Why the process cannot serve now ("starting", "tunnel down"), or undefined when it can. */
  notReady: () => string | undefined;
  /** Served at /metrics when given. */
  metrics?: MetricsSource | undefined;
  /** When given, /metrics answers only a request with Authorization: Bearer <token>. */
  token?: string | undefined;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Answers the operations paths; returns false for any other path, which is the caller's. */
export type OpsHandler = (req: Req, res: Res) => boolean;

export const OPS_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares in constant time (both sides hashed to the same length first). */
export function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const m = /^Bearer ([!-~]+)$/i.exec(header);
  if (!m) return false;
  return timingSafeEqual(digest(m[1]!), digest(token));
}

function answer(req: Req, res: Res, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

export function opsEndpoints(options: OpsEndpointsOptions): OpsHandler {
  const { metrics, token } = options;
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    // Exact, case-sensitive paths, as the main listener routes everything else.
    const path = query === -1 ? url : url.slice(0, query);
    if (path !== '/healthz' && path !== '/readyz' && !(path === '/metrics' && metrics)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(req, res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    if (path === '/healthz') {
      answer(req, res, 200, 'ok\n');
      return true;
    }
    if (path === '/readyz') {
      let reason: string | undefined;
      try {
        reason = options.notReady();
      } catch {
        reason = 'check failed';
      }
      answer(req, res, reason === undefined ? 200 : 503, reason === undefined ? 'ok\n' : `not ready: ${reason}\n`);
      return true;
    }
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      answer(req, res, 401, 'unauthorized\n', { 'www-authenticate': 'Bearer realm="metrics"' });
      return true;
    }
    metrics!.metrics().then(
      (text) => answer(req, res, 200, text, { 'content-type': metrics!.contentType }),
      () => answer(req, res, 500, 'metrics unavailable\n'),
    );
    return true;
  };
}

export interface OpsListener {
  /** http://host:port of the listener (the bound port when 0 was asked for). */
  url: URL;
  close(): Promise<void>;
}

/**
 * A plain-HTTP listener for the operations paths alone: everything else is a
 * 404. Meant for a non-public address (loopback, or a pod port that only the
 * kubelet and Prometheus reach).
 */
export function listenOps(host: string, port: number, handler: OpsHandler): Promise<OpsListener> {
  const server: Server = createServer((req, res) => {
    if (!handler(req, res)) answer(req, res, 404, 'not found\n');
  });
  // Small answers to scrapers and probes: a slow client gets no long hold on a socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = (server.address() as AddressInfo).port;
      resolve({
        url: new URL(`http://${host.includes(':') ? `[${host}]` : host}:${bound}`),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Splits "host:port" ("[::1]:9464" too) as the config schemas write it. */
export function splitListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}
