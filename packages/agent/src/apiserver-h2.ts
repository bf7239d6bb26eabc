// The agent's pooled HTTP/2 connection to the apiserver, for plain requests
// (upgrades need HTTP/1.1). One connection carries every request at once,
// as client-go's does: no request waits for a socket, and each costs a
// HEADERS frame (HPACK-compressed: the token and impersonation headers are
// mostly one byte after the first request) instead of an HTTP/1.1 header
// block written out in full. The first connection asks for h2 and
// http/1.1 by ALPN; an apiserver that does not choose h2 is reached over
// HTTP/1.1 from then on. A connection the apiserver closes or sends GOAWAY
// on is forgotten, and the next request opens a new one.
import { connect as h2Connect, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

/**
 * Flow-control windows towards the apiserver: HTTP/2's default of 64 KiB
 * would hold a large list or a busy `logs -f` to 64 KiB per round trip.
 */
export const APISERVER_STREAM_WINDOW = 1024 * 1024;
export const APISERVER_SESSION_WINDOW = 8 * 1024 * 1024;

/** A connection with no stream for this long is closed: agents live for months, and a forgotten one would stay open. */
export const APISERVER_IDLE_MS = 60_000;

export interface ApiserverConnections {
  /** The pooled session, or null when the apiserver chose HTTP/1.1. Rejects if the apiserver cannot be reached. */
  session(): Promise<ClientHttp2Session | null>;
  close(): void;
}

export interface ApiserverTarget {
  host: string;
  port: number;
  /** '' for an IP address (RFC 6066: no server name then). */
  servername: string;
  tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
}

export function createApiserverConnections(target: ApiserverTarget, log: Logger): ApiserverConnections {
  let current: Promise<ClientHttp2Session | null> | undefined;
  /** Once the apiserver chose HTTP/1.1, it is not asked again. */
  let http1 = false;
  let open: ClientHttp2Session | undefined;

  /** `dropped` runs when the session it made may take no more requests. */
  const dial = (dropped: () => void): Promise<ClientHttp2Session | null> =>
    new Promise((resolve, reject) => {
      const socket: TLSSocket = tlsConnect({ host: target.host, port: target.port, servername: target.servername || undefined, ALPNProtocols: ['h2', 'http/1.1'], ...target.tls });
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.off('error', reject);
        if (socket.alpnProtocol !== 'h2') {
          log.info({ alpn: socket.alpnProtocol }, 'the apiserver does not speak HTTP/2: requests go over HTTP/1.1');
          http1 = true;
          socket.destroy();
          return resolve(null);
        }
        const options: SecureClientSessionOptions = { createConnection: () => socket, settings: { initialWindowSize: APISERVER_STREAM_WINDOW, enablePush: false } };
        const session = h2Connect(`https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`, options);
        open = session;
        const forget = () => {
          dropped();
          if (open === session) open = undefined;
        };
        session.on('error', (err) => log.debug({ err }, 'apiserver connection failed'));
        session.once('goaway', forget);
        session.once('close', forget);
        session.once('connect', () => {
          if (!session.destroyed) session.setLocalWindowSize(APISERVER_SESSION_WINDOW);
        });
        session.setTimeout(APISERVER_IDLE_MS, () => {
          forget();
          session.close(); // streams still open (a quiet watch) end on their own terms
        });
        // The pool alone does not keep the agent's process running.
        session.unref();
        resolve(session);
      });
    });

  return {
    session() {
      if (http1) return Promise.resolve(null);
      // Closed, but its 'close' or 'goaway' event has not run yet: a new one is needed all the same.
      if (open && (open.closed || open.destroyed)) {
        current = undefined;
        open = undefined;
      }
      if (!current) {
        const dropped = () => {
          if (current === made) current = undefined;
        };
        const made = dial(dropped);
        current = made;
        made.catch(dropped);
      }
      return current;
    },
    close() {
      current = undefined;
      open?.close();
      open = undefined;
    },
  };
}
