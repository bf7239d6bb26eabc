// A session recording as the proxy writes it (`<day>/<id>.ztrec.gz`): the
// bytes each side sent, as they came, with their time. Nothing is escaped or
// decoded on the way, so recording costs a copy and the compression; the
// asciicast v2 that players read is made from it when a recording is read
// (castText, castStream in cast-file.ts), the same lines the proxy once wrote
// itself.
//
//   preamble   "ztsh-recording 1\n" + the asciicast header as one JSON line
//   event      kind (1 byte: 'o' output, 'i' input, 'r' resize)
//              time (float64 LE: seconds since the start)
//              length (uint32 LE, at most MAX_EVENT_BYTES)
//              data (output and input: the bytes; resize: "COLSxROWS" in ASCII)
//
// The stream is gzip, sync-flushed at least every second: a recording cut by
// a crash ends inside an event, and is read up to the last whole one.
//
// A recording is read by auth, which stores what proxies send it: the
// decoder trusts nothing in it. A bad kind, an event over MAX_EVENT_BYTES, a
// time that is not a finite number or a resize that is not two numbers ends
// the read with an error; what is made of it is bounded by the caller.
import { isAscii } from 'node:buffer';
import type { AsciicastHeader } from './asciicast.ts';
import { endsInsideUtf8Sequence, escapeAsciiJson, maxEscapedLength } from './json-ascii.ts';

export const RECORDING_MAGIC = 'ztsh-recording 1\n';
export const EVENT_OUTPUT = 0x6f; // 'o'
export const EVENT_INPUT = 0x69; // 'i'
export const EVENT_RESIZE = 0x72; // 'r'
/** kind + time + length. */
export const EVENT_HEADER_BYTES = 13;
/** The writer cuts longer output into several events with the same time. */
export const MAX_EVENT_BYTES = 64 * 1024;
/** A preamble longer than this is not a proxy's. */
const MAX_PREAMBLE_BYTES = 64 * 1024;
const RESIZE = /^[0-9]{1,5}x[0-9]{1,5}$/;
const MAGIC = Buffer.from(RECORDING_MAGIC);

/** The first bytes of a recording. */
export function recordingPreamble(header: AsciicastHeader): Buffer {
  return Buffer.from(RECORDING_MAGIC + JSON.stringify(header) + '\n');
}

/** Writes an event's header into `out` at `at`; the event's data follows it. Returns where the data goes. */
export function writeEventHeader(out: Buffer, at: number, kind: number, seconds: number, length: number): number {
  out[at] = kind;
  out.writeDoubleLE(seconds, at + 1);
  out.writeUInt32LE(length, at + 9);
  return at + EVENT_HEADER_BYTES;
}

/** The recording is not what a proxy writes. */
export class RecordingFormatError extends Error {}
/** The recording decodes to more asciicast than the reader allows. */
export class RecordingTooLargeError extends RecordingFormatError {}

/**
 * Turns a recording's bytes, fed in pieces as they come, into asciicast v2
 * lines. Text is decoded as a terminal would decode the whole stream each
 * way (a character cut between events joins up; invalid bytes become
 * U+FFFD), so the lines are those the asciicast writer made before.
 */
export class RecordingDecoder {
  private held: Buffer = Buffer.alloc(0);
  private preambleDone = false;
  private readonly decoders = { o: new TextDecoder('utf-8'), i: new TextDecoder('utf-8') };
  /** The decoder may hold the first bytes of a character cut by the event's end. */
  private readonly midSequence = { o: false, i: false };
  private made = 0;

  /** `maxBytes`: the most asciicast this recording may become; past it the read fails. */
  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {}

  /** The asciicast lines the bytes so far complete. */
  push(bytes: Buffer): Buffer[] {
    let buf = this.held.length > 0 ? Buffer.concat([this.held, bytes]) : bytes;
    const out: Buffer[] = [];
    if (!this.preambleDone) {
      const line = this.preamble(buf);
      if (line === undefined) {
        this.held = Buffer.from(buf);
        return out;
      }
      out.push(this.count(line.json));
      buf = buf.subarray(line.end);
    }
    let at = 0;
    while (buf.length - at >= EVENT_HEADER_BYTES) {
      const kind = buf[at]!;
      const seconds = buf.readDoubleLE(at + 1);
      const length = buf.readUInt32LE(at + 9);
      if (kind !== EVENT_OUTPUT && kind !== EVENT_INPUT && kind !== EVENT_RESIZE) throw new RecordingFormatError(`unknown event kind ${kind}`);
      if (!Number.isFinite(seconds)) throw new RecordingFormatError('an event time is not a number');
      if (length > MAX_EVENT_BYTES) throw new RecordingFormatError(`an event of ${length} bytes (at most ${MAX_EVENT_BYTES})`);
      if (buf.length - at - EVENT_HEADER_BYTES < length) break;
      const data = buf.subarray(at + EVENT_HEADER_BYTES, at + EVENT_HEADER_BYTES + length);
      at += EVENT_HEADER_BYTES + length;
      const line = kind === EVENT_RESIZE ? this.resize(seconds, data) : this.text(kind === EVENT_OUTPUT ? 'o' : 'i', seconds, data);
      if (line) out.push(this.count(line));
    }
    // What is left is the start of an event: kept (copied, as `bytes` is the caller's) until the rest comes.
    this.held = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    return out;
  }

  /** The bytes have all come: throws when they never held the preamble, as a recording without one has nothing to play. */
  end(): void {
    if (!this.preambleDone) throw new RecordingFormatError('it ends before its header');
  }

  /** Whether the recording so far ended on an event's end. An unfinished one (a crash) ends inside one, which is dropped. */
  get whole(): boolean {
    return this.preambleDone && this.held.length === 0;
  }

  private preamble(buf: Buffer): { json: Buffer; end: number } | undefined {
    const known = Math.min(buf.length, MAGIC.length);
    if (!buf.subarray(0, known).equals(MAGIC.subarray(0, known))) throw new RecordingFormatError('not a ztsh recording');
    const newline = buf.indexOf(0x0a, MAGIC.length);
    if (newline < 0) {
      if (buf.length > MAX_PREAMBLE_BYTES) throw new RecordingFormatError('the recording header is too long');
      return undefined;
    }
    let header: unknown;
    try {
      header = JSON.parse(buf.toString('utf8', MAGIC.length, newline));
    } catch {
      throw new RecordingFormatError('the recording header is not JSON');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header) || (header as { version?: unknown }).version !== 2) {
      throw new RecordingFormatError('the recording header is not an asciicast v2 header');
    }
    this.preambleDone = true;
    // Written again rather than passed on: one line, whatever the file held.
    return { json: Buffer.from(JSON.stringify(header) + '\n'), end: newline + 1 };
  }

  private text(kind: 'o' | 'i', seconds: number, data: Buffer): Buffer | undefined {
    if (data.length === 0) return undefined;
    const start = lineStart(seconds, kind);
    if (!this.midSequence[kind] && isAscii(data)) {
      // ASCII decodes to the same characters, one per byte: escape the bytes themselves.
      // The quotes and `]\n` around the escaped bytes.
      const line = Buffer.allocUnsafe(start.length + maxEscapedLength(data) + 4);
      let end = line.write(start + '"', 0, 'latin1');
      end = escapeAsciiJson(data, line, end);
      end += line.write('"]\n', end, 'latin1');
      return line.subarray(0, end);
    }
    const text = this.decoders[kind].decode(data, { stream: true });
    this.midSequence[kind] = endsInsideUtf8Sequence(data);
    if (!text) return undefined;
    return Buffer.from(`${start}${JSON.stringify(text)}]\n`);
  }

  private resize(seconds: number, data: Buffer): Buffer {
    const size = data.toString('latin1');
    if (!RESIZE.test(size)) throw new RecordingFormatError('a resize event is not COLSxROWS');
    return Buffer.from(`${lineStart(seconds, 'r')}"${size}"]\n`);
  }

  private count(line: Buffer): Buffer {
    this.made += line.length;
    if (this.made > this.maxBytes) throw new RecordingTooLargeError(`more than ${this.maxBytes} bytes as asciicast`);
    return line;
  }
}

/** An asciicast event line up to its data: `[seconds,"code",`. */
function lineStart(seconds: number, code: string): string {
  return `[${seconds.toFixed(6)},"${code}",`;
}
