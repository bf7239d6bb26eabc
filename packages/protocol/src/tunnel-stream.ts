// The agent tunnel's transport: HTTP/2 on /v1/tunnel, the proxy being the
// HTTP/2 client and the agent the server. Two ways to carry it, both on the
// agent's TLS connection to the proxy's one address:
//   direct     an HTTP/1.1 upgrade to TUNNEL_UPGRADE; after the 101 both
//              ends hand the TLS socket itself to node:http2 (native, no
//              JavaScript between TLS and nghttp2);
//   websocket  a WebSocket whose binary messages carry the HTTP/2 bytes, for
//              load balancers that pass only WebSockets (slower: every byte
//              goes through ws and a JavaScript stream).
// Both ends use what is here, so the two sides agree on it.
import type { Duplex } from 'node:stream';
import type { Settings } from 'node:http2';

/** The Upgrade token of the direct transport. */
export const TUNNEL_UPGRADE = 'ztsh-tunnel-h2';

/** How the agent carries its tunnel: `auto` tries direct and falls back to websocket where the path refuses it. */
export const TUNNEL_TRANSPORTS = ['auto', 'direct', 'websocket'] as const;
export type TunnelTransport = (typeof TUNNEL_TRANSPORTS)[number];

/**
 * How often each end of a direct tunnel pings the other over HTTP/2; a ping
 * not answered by the next one ends the tunnel. Besides finding a dead peer
 * (and keeping load balancers from calling the tunnel idle), this is what
 * ends a tunnel whose peer broke HTTP/2 on Node 20: there nghttp2 answers
 * some protocol errors (a frame over the size limit) with GOAWAY and stops
 * reading, and Node's session says nothing, so no ping answer ever comes.
 * (The websocket transport sees every byte sent and watches for that GOAWAY
 * itself: goawayWatch.) Node 24 ends such a session with an error at once.
 */
export const TUNNEL_PING_MS = 10_000;

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

/**
 * The connection-level window is no SETTING: each end opens its own once the
 * session is up. A peer that sent garbage may have destroyed the session
 * before its 'connect' event runs: then there is nothing to open, and
 * setLocalWindowSize would throw out of the event handler.
 */
export function openTunnelWindow(session: { readonly destroyed: boolean; setLocalWindowSize(size: number): void }): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(TUNNEL_SESSION_WINDOW);
}

/**
 * How big one WebSocket message of the tunnel may be: both ends set this as
 * `maxPayload` (ws buffers a whole message before it hands it on, so this
 * is what one peer can make the other hold per tunnel).
 *
 * What real traffic needs: Node's HTTP/2 hands the socket a batch of frames
 * at a time and tunnelStream made each batch one message. DATA frames are at
 * most 16 KiB each, and a batch holds no more DATA than the peer's windows
 * allow: measured over the tunnel, a 64 MiB download or upload on one stream
 * (an exec stream, `kubectl cp`) gave messages of at most 1 MiB + 623 bytes
 * (the stream window plus frame headers), and 16 or 64 concurrent 8 MiB
 * downloads at most 8,393,957 bytes (the 8 MiB session window plus frame
 * headers). HEADERS frames are not flow-controlled and can add to a batch
 * when many requests start at once. Senders now cut batches into messages of
 * TUNNEL_MESSAGE_BYTES; receivers accept twice the session window, so an
 * agent that still sends whole batches keeps working, with room for HEADERS.
 */
export const TUNNEL_MAX_PAYLOAD = 2 * TUNNEL_SESSION_WINDOW;

/** The largest message a sender makes of one batch (a larger batch is sent as several messages). */
export const TUNNEL_MESSAGE_BYTES = TUNNEL_STREAM_WINDOW;

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
 * message of its own; here a batch is one message, or several of at most
 * TUNNEL_MESSAGE_BYTES (the receiver reads a byte stream, so a cut may fall
 * anywhere). `watch` sees every byte this end sends (goawayWatch).
 */
export function tunnelStream<D extends Duplex>(duplex: D, ws: MessageSender, watch?: (sent: Buffer) => void): D {
  const writeOne = duplex._write.bind(duplex);
  const send = (data: Buffer, callback: (error?: Error | null) => void): void => {
    watch?.(data);
    // Not open yet (or any more): the single-write path knows how to wait or fail.
    if (ws.readyState !== OPEN) return writeOne(data, 'binary', callback);
    // ws calls back in order, and with an error for every send after a failed one: the last callback speaks for all.
    let at = 0;
    for (; data.length - at > TUNNEL_MESSAGE_BYTES; at += TUNNEL_MESSAGE_BYTES) ws.send(data.subarray(at, at + TUNNEL_MESSAGE_BYTES), ignore);
    ws.send(at === 0 ? data : data.subarray(at), callback);
  };
  duplex._write = (chunk: Buffer, _encoding, callback) => send(chunk, callback);
  duplex._writev = (chunks, callback) => send(chunks.length === 1 ? (chunks[0]!.chunk as Buffer) : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback);
  return duplex;
}

function ignore(): void {}

export type PrefaceCheck = { done: false } | { done: true; problem?: string | undefined };

/**
 * Whether the first bytes an agent sent start its side of an HTTP/2
 * connection. The server's connection preface is one SETTINGS frame
 * (RFC 9113 §3.4, §6.5): type 4, no ACK flag, stream 0, a payload of 6-byte
 * settings no longer than the initial 16 KiB frame limit, with the values
 * the RFC bounds in range. Not done while the frame is incomplete; done with
 * a problem as soon as the bytes so far cannot become one.
 */
export function checkServerPreface(bytes: Buffer): PrefaceCheck {
  if (bytes.length < 9) return { done: false };
  const length = bytes.readUIntBE(0, 3);
  if (bytes[3] !== 0x4) return { done: true, problem: `the first frame is of type ${bytes[3]}, not SETTINGS` };
  if ((bytes[4]! & 0x1) !== 0) return { done: true, problem: 'the first SETTINGS frame is an ACK' };
  if ((bytes.readUInt32BE(5) & 0x7fffffff) !== 0) return { done: true, problem: 'the first SETTINGS frame is on a stream' };
  if (length % 6 !== 0 || length > 16_384) return { done: true, problem: `a SETTINGS payload of ${length} bytes` };
  if (bytes.length < 9 + length) return { done: false };
  for (let at = 9; at < 9 + length; at += 6) {
    const id = bytes.readUInt16BE(at);
    const value = bytes.readUInt32BE(at + 2);
    if (id === 0x2 && value > 1) return { done: true, problem: `ENABLE_PUSH ${value}` };
    if (id === 0x4 && value > 0x7fffffff) return { done: true, problem: `INITIAL_WINDOW_SIZE ${value}` };
    if (id === 0x5 && (value < 16_384 || value > 0xffffff)) return { done: true, problem: `MAX_FRAME_SIZE ${value}` };
  }
  return { done: true };
}

/** The most bytes checkServerPreface needs: a frame header and the largest SETTINGS payload. */
export const SERVER_PREFACE_MAX_BYTES = 9 + 16_384;

/**
 * Follows the frames one end of the tunnel sends and reports the error code
 * of the first GOAWAY among them. When nghttp2 finds that the peer broke the
 * protocol, it sends GOAWAY and stops, and Node's HTTP/2 says nothing: it
 * waits for the peer to close the connection, which a lying peer never does,
 * and every request on the tunnel would hang. Its own GOAWAY is how an end
 * learns that its session is over. `clientMagic`: the 24-byte client
 * connection preface comes first (the proxy's side).
 */
export function goawayWatch(clientMagic: boolean, onGoaway: (errorCode: number) => void): (sent: Buffer) => void {
  let skip = clientMagic ? 24 : 0;
  /** The frame header, then a GOAWAY's last-stream-id and error code, as they come in. */
  let part = Buffer.alloc(0);
  let inGoaway = false;
  let done = false;
  return (sent) => {
    let at = 0;
    while (!done && at < sent.length) {
      if (skip > 0) {
        const n = Math.min(skip, sent.length - at);
        skip -= n;
        at += n;
        continue;
      }
      const need = inGoaway ? 8 : 9;
      const n = Math.min(need - part.length, sent.length - at);
      let bytes: Buffer;
      if (part.length === 0 && n === need) bytes = sent.subarray(at, at + need);
      else {
        part = Buffer.concat([part, sent.subarray(at, at + n)]);
        if (part.length < need) return;
        bytes = part;
      }
      at += n;
      part = Buffer.alloc(0);
      if (inGoaway) {
        done = true;
        onGoaway(bytes.readUInt32BE(4));
      } else if (bytes[3] === 0x7 && bytes.readUIntBE(0, 3) >= 8) {
        inGoaway = true;
      } else skip = bytes.readUIntBE(0, 3);
    }
  };
}
