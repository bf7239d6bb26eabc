// Server side of `kubectl port-forward`: SPDY/3.1 frames, carried in WebSocket binary messages
// (kubectl 1.31 and newer, or 1.30 with KUBECTL_PORT_FORWARD_WEBSOCKETS=true) or straight on
// the connection after an `Upgrade: SPDY/3.1` (older kubectl).
// For each local connection kubectl opens two streams sharing a `requestid` header: an "error"
// stream (kubectl half-closes it at once and reads it to EOF for an error message) and a "data"
// stream. Each data stream is piped to the socket `open` gives for the `port` it names (the
// pod's HTTP server for a port the pod declares, the echo server for any other).
// When the echo side ends we FIN the data stream, then the error stream, which is what lets
// kubectl finish that connection cleanly. PINGs are answered; RST_STREAM and GOAWAY end streams.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import {
  FLAG_FIN,
  FrameReader,
  FrameType,
  HeaderDeflater,
  HeaderInflater,
  RST_PROTOCOL_ERROR,
  controlFrame,
  dataFrame,
  decodeNameValues,
  encodeNameValues,
  u32,
  type Frame,
} from './spdy.ts';

export const PORTFORWARD_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';

const MAX_DATA_FRAME = 64 * 1024;

interface Pair {
  errorStream?: number;
  dataStream?: number;
  socket?: Socket;
  done: boolean;
}

/** Where SPDY frames come and go: a WebSocket's binary messages, or an upgraded socket. */
export interface SpdyTransport {
  send(bytes: Buffer): void;
  /** Ends the session (the WebSocket close code, where there is one). */
  close(code: number): void;
  onBytes(listener: (bytes: Buffer) => void): void;
  onClose(listener: () => void): void;
}

export function webSocketTransport(ws: WebSocket): SpdyTransport {
  return {
    send: (bytes) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
    },
    close: (code) => ws.close(code),
    onBytes: (listener) =>
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => listener(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data))),
    onClose: (listener) => ws.on('close', listener),
  };
}

export function socketTransport(socket: Duplex): SpdyTransport {
  return {
    send: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    close: () => socket.end(),
    onBytes: (listener) => socket.on('data', listener),
    onClose: (listener) => socket.on('close', listener),
  };
}

/** Opens the connection to what listens on the pod's `port`. */
export type PortOpener = (port: number) => Socket;

export function servePortForward(transport: SpdyTransport, open: PortOpener): void {
  const reader = new FrameReader();
  const inflater = new HeaderInflater();
  const deflater = new HeaderDeflater();
  const pairs = new Map<string, Pair>();
  const streamPair = new Map<number, Pair>();

  const send = (bytes: Buffer) => {
    transport.send(bytes);
  };
  const fin = (streamId: number | undefined) => streamId !== undefined && send(dataFrame(streamId, FLAG_FIN, Buffer.alloc(0)));
  const reset = (streamId: number, status: number) => send(controlFrame(FrameType.RstStream, 0, u32(streamId, status)));

  /** Ends one forwarded connection: an optional message on the error stream, then FIN both. */
  const finish = (pair: Pair, message?: string) => {
    if (pair.done) return;
    pair.done = true;
    if (message && pair.errorStream !== undefined) send(dataFrame(pair.errorStream, 0, Buffer.from(message)));
    fin(pair.dataStream);
    fin(pair.errorStream);
  };

  const startForward = (pair: Pair, port: string) => {
    const socket = open(Number(port));
    pair.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += MAX_DATA_FRAME) {
        send(dataFrame(pair.dataStream ?? 0, 0, chunk.subarray(at, at + MAX_DATA_FRAME)));
      }
    });
    socket.on('end', () => finish(pair));
    socket.on('error', (err) => finish(pair, `error forwarding port ${port} to pod: ${err.message}`));
    socket.on('close', () => finish(pair));
  };

  const onSynStream = (payload: Buffer) => {
    const streamId = payload.readUInt32BE(0) & 0x7fffffff;
    const headers = decodeNameValues(inflater.inflate(payload.subarray(10)));
    send(controlFrame(FrameType.SynReply, 0, Buffer.concat([u32(streamId), deflater.deflate(encodeNameValues({}))])));
    const requestId = headers.requestid ?? String(streamId);
    const pair = pairs.get(requestId) ?? { done: false };
    pairs.set(requestId, pair);
    streamPair.set(streamId, pair);
    const port = headers.port ?? '';
    if (headers.streamtype === 'error') {
      pair.errorStream = streamId;
    } else if (headers.streamtype === 'data') {
      pair.dataStream = streamId;
      const n = Number(port);
      if (!Number.isInteger(n) || n < 1 || n > 65535) finish(pair, `invalid port: ${JSON.stringify(port)}`);
      else startForward(pair, port);
    } else {
      reset(streamId, RST_PROTOCOL_ERROR);
    }
  };

  const onFrame = (frame: Frame) => {
    if (frame.kind === 'data') {
      const pair = streamPair.get(frame.streamId);
      if (!pair || frame.streamId !== pair.dataStream || !pair.socket) return; // error stream: kubectl only FINs it
      if (frame.data.length > 0) pair.socket.write(frame.data);
      if (frame.flags & FLAG_FIN) pair.socket.end();
      return;
    }
    switch (frame.type) {
      case FrameType.SynStream:
        return onSynStream(frame.payload);
      case FrameType.RstStream: {
        const pair = streamPair.get(frame.payload.readUInt32BE(0) & 0x7fffffff);
        if (pair) {
          pair.done = true;
          pair.socket?.destroy();
        }
        return;
      }
      case FrameType.Ping:
        return send(controlFrame(FrameType.Ping, 0, frame.payload));
      case FrameType.GoAway:
        return transport.close(1000);
      default:
        return; // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do (kubectl does no flow control)
    }
  };

  transport.onBytes((bytes) => {
    try {
      for (const frame of reader.push(bytes)) onFrame(frame);
    } catch {
      // A frame we cannot parse breaks the session, as it would on a real server.
      send(controlFrame(FrameType.GoAway, 0, u32(0, RST_PROTOCOL_ERROR)));
      transport.close(1002);
    }
  });
  transport.onClose(() => {
    for (const pair of pairs.values()) {
      pair.done = true;
      pair.socket?.destroy();
    }
  });
}
