// The slice of SPDY/3.1 (draft-mbelshe-httpbis-spdy-00 + 3.1 amendments) a port-forward server
// needs: frame parsing from a byte stream, frame encoding, and the name/value header blocks,
// zlib-compressed with the protocol's fixed dictionary. kubectl ≥ 1.30 sends these frames as
// the payload of WebSocket binary messages (subprotocol SPDY/3.1+portforward.k8s.io).
//
//   control frame: 1 | version(15)=3 | type(16) | flags(8) | length(24) | payload
//   data frame:    0 | stream id(31)            | flags(8) | length(24) | payload
//
// Header blocks: one zlib stream per direction that continues across frames. We read the
// client's by inflating everything received so far with Z_SYNC_FLUSH (header blocks are few and
// small) and write ours as uncompressed "stored" deflate blocks, which any zlib reader accepts.
import { constants, deflateSync, inflateSync } from 'node:zlib';

export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;

export const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

export const RST_PROTOCOL_ERROR = 1;
export const RST_INVALID_STREAM = 2;
export const RST_REFUSED_STREAM = 3;
export const RST_CANCEL = 5;

export type Frame =
  | { kind: 'data'; streamId: number; flags: number; data: Buffer }
  | { kind: 'control'; type: number; flags: number; payload: Buffer };

const HEADER_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding',
  'accept-language', 'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection',
  'content-base', 'content-encoding', 'content-language', 'content-length', 'content-location',
  'content-md5', 'content-range', 'content-type', 'date', 'etag', 'expect', 'expires', 'from', 'host',
  'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified',
  'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via',
  'warning', 'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url',
  'public', 'set-cookie', 'keep-alive', 'origin',
];
const HEADER_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The SPDY/3 header-compression dictionary (1423 bytes): length-prefixed words, then a tail. */
export const HEADER_DICTIONARY = Buffer.concat([
  ...HEADER_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, 'latin1')]);
  }),
  Buffer.from(HEADER_TAIL, 'latin1'),
]);

/** Splits a byte stream into frames; keeps an incomplete tail for the next push. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(bytes: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, bytes]) : bytes;
    const frames: Frame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUIntBE(5, 3);
      if (this.buf.length < 8 + length) break;
      const flags = this.buf[4] ?? 0;
      const body = this.buf.subarray(8, 8 + length);
      const word = this.buf.readUInt32BE(0);
      if (word & 0x80000000) {
        frames.push({ kind: 'control', type: word & 0xffff, flags, payload: body });
      } else {
        frames.push({ kind: 'data', streamId: word & 0x7fffffff, flags, data: body });
      }
      this.buf = this.buf.subarray(8 + length);
    }
    return frames;
  }
}

export function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x8000 | SPDY_VERSION) * 0x10000 + type);
  head.writeUInt32BE(((flags & 0xff) << 24 | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff);
  head.writeUInt32BE(((flags & 0xff) << 24 | data.length) >>> 0, 4);
  return Buffer.concat([head, data]);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

/** Name/value block: count, then (len, name, len, value) with multiple values NUL-separated. */
export function encodeNameValues(headers: Record<string, string>): Buffer {
  const parts = [u32(Object.keys(headers).length)];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(value);
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeNameValues(block: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  const take = () => {
    const len = block.readUInt32BE(at);
    const s = block.subarray(at + 4, at + 4 + len).toString('utf8');
    at += 4 + len;
    return s;
  };
  const count = block.readUInt32BE(at);
  at += 4;
  for (let i = 0; i < count; i++) {
    const name = take();
    out[name] = take();
  }
  return out;
}

/** Reads the peer's header blocks: one zlib stream spread over many frames. */
export class HeaderInflater {
  private compressed: Buffer = Buffer.alloc(0);
  private produced = 0;

  inflate(block: Buffer): Buffer {
    this.compressed = Buffer.concat([this.compressed, block]);
    const all = inflateSync(this.compressed, {
      dictionary: HEADER_DICTIONARY,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const fresh = all.subarray(this.produced);
    this.produced = all.length;
    return fresh;
  }
}

/**
 * Writes our header blocks: a zlib header once, then per block its bytes as stored
 * (uncompressed) deflate blocks followed by an empty stored block — the sync-flush marker
 * 00 00 00 FF FF, which is what makes a zlib reader hand out the block's bytes at once.
 */
export class HeaderDeflater {
  private started = false;

  deflate(plain: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      // CMF, FLG (with FDICT) and the dictionary's Adler-32, exactly as zlib writes them.
      parts.push(deflateSync(Buffer.alloc(0), { dictionary: HEADER_DICTIONARY }).subarray(0, 6));
      this.started = true;
    }
    for (let at = 0; at < plain.length; at += 0xffff) parts.push(storedBlock(plain.subarray(at, at + 0xffff)));
    parts.push(storedBlock(Buffer.alloc(0)));
    return Buffer.concat(parts);
  }
}

/** BFINAL=0, BTYPE=00, then LEN and its complement (little-endian); we stay byte-aligned. */
function storedBlock(data: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  return Buffer.concat([head, data]);
}
