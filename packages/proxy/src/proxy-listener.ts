// The one HTTPS listener users, browsers and agents know, before and after
// there is anything to serve. ztshd binds it first (tests bind port 0 and
// need the port for the public URL the auth service is made with); until
// the proxy's handlers are attached (createProxyServer), every request is
// answered 503 and every upgrade refused, so nothing reaches a half-built
// service.
//
// HTTP/2 with HTTP/1.1 allowed (kubectl upgrades arrive on HTTP/1.1
// connections without ALPN). Client certificates are asked for but not
// required at the TLS layer: browsers on the login pages have none; each
// route checks its own.
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from './kube-status.ts';

const STARTING = 'ztshd is starting';

export interface ProxyHandlers {
  request(req: Http2ServerRequest, res: Http2ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface ProxyListener {
  server: Http2SecureServer;
  /** Binds; resolves to the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Hands requests and upgrades to these from now on (once). */
  attach(handlers: ProxyHandlers): void;
  /** Stops listening and ends every connection, HTTP/2 sessions and upgraded sockets included. */
  close(): Promise<void>;
}

export function createProxyListener(options: { tls: { cert: string; key: string } }): ProxyListener {
  const server = createSecureServer({
    cert: options.tls.cert,
    key: options.tls.key,
    allowHTTP1: true,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    settings: { enableConnectProtocol: false },
  });
  // No idle timeout: watches and `logs -f` may be quiet for a long time.
  server.setTimeout(0);
  // An idle HTTP/1.1 keep-alive connection is closed after 65 s: longer than
  // clients and load balancers keep theirs (undici 4 s, cloud LBs 60 s), so
  // none of them sends a request on a connection the proxy is just closing
  // (a reset, not an answer). Node 24 would close after 5 s here; Node 20 never did.
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = 65_000;
  const sockets = new Set<Duplex>();
  server.on('secureConnection', (socket: Duplex & { setNoDelay?: (on: boolean) => void }) => {
    // Headers and body go out as separate writes (a watch flushes headers
    // first): without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms each.
    socket.setNoDelay?.(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const starting = {
    request: (_req: Http2ServerRequest, res: Http2ServerResponse) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code: 'unavailable', message: STARTING, hint: 'try again in a moment' } }));
    },
    upgrade: (_req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => undefined);
      refuseUpgrade(socket, 503, STARTING);
    },
  };
  server.on('request', starting.request);
  server.on('upgrade', starting.upgrade);
  let attached = false;
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    attach(handlers) {
      if (attached) throw new Error('the proxy handlers are attached already');
      attached = true;
      server.off('request', starting.request);
      server.off('upgrade', starting.upgrade);
      server.on('request', handlers.request);
      server.on('upgrade', handlers.upgrade);
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
