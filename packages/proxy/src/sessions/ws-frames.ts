// WebSocket framing (RFC 6455 §5.2), just enough to relay whole frames
// between kubectl and the apiserver and to read what they carry. Frames are
// passed on byte for byte (kubectl's stay masked, as the apiserver expects);
// the parser only finds where each one ends and unmasks a copy of its payload.

export interface Frame {
  fin: boolean;
  /** The three reserved bits: nonzero only under an extension, and none is negotiated here. */
  rsv: number;
  opcode: number;
  payload: Buffer;
}

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;

/** Refuse to hold a frame larger than this while it arrives. */
const MAX_FRAME = 64 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** The whole size of the frame starting at buf[0], once its header is in; throws past MAX_FRAME. */
function frameSize(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const b1 = buf[1]!;
  let length = b1 & 0x7f;
  let header = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    header = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_FRAME)) throw new Error('WebSocket frame too large');
    length = Number(big);
    header = 10;
  }
  return header + ((b1 & 0x80) !== 0 ? 4 : 0) + length;
}

export class FrameParser {
  /** `maxFrame`: the largest frame held while it arrives; a larger one ends the session. */
  constructor(private readonly maxFrame = MAX_FRAME) {}

  /** Bytes of frames not complete yet, kept as they came: joined once, when enough are in. */
  private chunks: Buffer[] = [];
  private held = 0;
  /** How many bytes the frame being held needs in all, once its header is in (0: not known yet). */
  private needed = 0;

  /**
   * Takes the next bytes of the stream; returns the frames completed by
   * them and the bytes those frames span (to forward as they are). Bytes of
   * a frame not yet complete are kept for the next call, and not copied
   * again while more of a large frame arrives.
   */
  push(chunk: Buffer): { frames: Frame[]; complete: Buffer } {
    this.chunks.push(chunk);
    this.held += chunk.length;
    if (this.held > this.maxFrame + 14) throw new Error('WebSocket frame too large');
    if (this.needed > 0 && this.held < this.needed) return { frames: [], complete: EMPTY };
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.held);
    const frames: Frame[] = [];
    let offset = 0;
    for (;;) {
      const frame = readFrame(buf, offset);
      if (!frame) break;
      frames.push(frame.frame);
      offset = frame.end;
    }
    const rest = buf.subarray(offset);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.held = rest.length;
    this.needed = rest.length > 0 ? (frameSize(rest) ?? 0) : 0;
    if (this.needed > this.maxFrame + 14) throw new Error('WebSocket frame too large');
    return { frames, complete: buf.subarray(0, offset) };
  }

  /** True when no partial frame is held: a frame written now lands between frames. */
  get atBoundary(): boolean {
    return this.held === 0;
  }
}

function readFrame(buf: Buffer, at: number): { frame: Frame; end: number } | undefined {
  if (buf.length - at < 2) return undefined;
  const b0 = buf[at]!;
  const b1 = buf[at + 1]!;
  let length = b1 & 0x7f;
  let header = 2;
  if (length === 126) {
    if (buf.length - at < 4) return undefined;
    length = buf.readUInt16BE(at + 2);
    header = 4;
  } else if (length === 127) {
    if (buf.length - at < 10) return undefined;
    const big = buf.readBigUInt64BE(at + 2);
    if (big > BigInt(MAX_FRAME)) throw new Error('WebSocket frame too large');
    length = Number(big);
    header = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const maskAt = at + header;
  if (masked) header += 4;
  const end = at + header + length;
  if (buf.length < end) return undefined;
  let payload = buf.subarray(at + header, end);
  if (masked) {
    const copy = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) copy[i] = payload[i]! ^ buf[maskAt + (i & 3)]!;
    payload = copy;
  }
  return { frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x07, opcode: b0 & 0x0f, payload }, end };
}

/**
 * Why a frame may not be relayed, or undefined. kubectl and the apiserver
 * send each channel message as one whole frame and negotiate no extension.
 * A fragmented message is read differently by the two ends (the apiserver's
 * WebSocket reads every frame, continuation or not, as a message of its
 * own, its first byte the channel), so what the recorder saw as one channel
 * could be stdin to the cluster: fragments and reserved bits are refused.
 */
export function frameRefusal(frame: Frame): string | undefined {
  if (frame.rsv !== 0) return 'reserved bits set, and no extension was negotiated';
  if (frame.opcode === OP_CONTINUATION) return 'fragmented messages are not accepted';
  if (frame.opcode < 0x8 && !frame.fin) return 'fragmented messages are not accepted';
  if (frame.opcode !== OP_TEXT && frame.opcode !== OP_BINARY && frame.opcode !== OP_CLOSE && frame.opcode !== 0x9 && frame.opcode !== 0xa) return `unknown opcode ${frame.opcode}`;
  return undefined;
}

/** A frame as a server sends it (unmasked). */
export function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** A close frame with a status code and a reason (at most 123 bytes of it). */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason).subarray(0, 123);
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return serverFrame(OP_CLOSE, payload);
}
