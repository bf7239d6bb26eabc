// The agent tunnel's transport: HTTP/2 over a WebSocket (wss /v1/tunnel),
// the proxy being the HTTP/2 client and the agent the server. Both ends use
// what is here, so the two sides agree on it.
import type { Duplex } from 'node:stream';
import type { Settings } from 'node:http2';

/**
 * Flow-control windows of the tunnel's HTTP/2 session. HTTP/2's default,
 * 64 KiB per stream and per connection, lets one exec or `logs -f` stream
 * move 64 KiB per round trip through both WebSocket ends; a round trip
 * through the tunnel costs far more than between two sockets, so the
 * default caps a stream at tens of MB/s. The windows also bound what a
 * slow reader can leave buffered: at most STREAM_WINDOW per stream and
 * SESSION_WINDOW per tunnel.
 */
export const TUNNEL_STREAM_WINDOW = 1024 * 1024;
export const TUNNEL_SESSION_WINDOW = 8 * 1024 * 1024;

/** SETTINGS both ends of the tunnel send. */
export const TUNNEL_H2_SETTINGS: Settings = { initialWindowSize: TUNNEL_STREAM_WINDOW };

/** The connection-level window is no SETTING: each end opens its own once the session is up. */
export function openTunnelWindow(session: { setLocalWindowSize(size: number): void }): void {
  session.setLocalWindowSize(TUNNEL_SESSION_WINDOW);
}

/** What tunnelStream needs of a ws WebSocket. */
export interface MessageSender {
  send(data: Buffer, cb: (err?: Error) => void): void;
  readonly readyState: number;
}

const OPEN = 1;

/**
 * Makes writes to a createWebSocketStream duplex cheap: Node's HTTP/2
 * hands its socket a batch of frames at a time (corked writes) and waits
 * for the batch to be written before the next. Without a writev, each
 * buffer of the batch, 9-byte frame headers included, becomes a WebSocket
 * message of its own; here a batch is one message.
 */
export function tunnelStream<D extends Duplex>(duplex: D, ws: MessageSender): D {
  const writeOne = duplex._write.bind(duplex);
  duplex._writev = (chunks, callback) => {
    const data = chunks.length === 1 ? (chunks[0]!.chunk as Buffer) : Buffer.concat(chunks.map((c) => c.chunk as Buffer));
    // Not open yet (or any more): the single-write path knows how to wait or fail.
    if (ws.readyState !== OPEN) writeOne(data, 'binary', callback);
    else ws.send(data, callback);
  };
  return duplex;
}
