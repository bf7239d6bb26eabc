// A session recording as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
// a JSON header line, then one JSON array per event: [seconds, "o"|"i"|"r", data].
// Lines go to the sink (gzip into a file, or into chunks in auth's store: recording-sink.ts)
// at least every FLUSH_MS, so a crash of the proxy loses at most that much
// (and what the store had not taken yet); close() waits until the sink holds
// everything.
//
// The writer sits in the path of every exec byte, so lines are encoded
// straight into one pending buffer (no per-line strings joined and
// re-encoded), and a chunk of plain ASCII, the common case and the one of
// binary output such as NULs, is JSON-escaped from its bytes (json-ascii.ts)
// without decoding it to a string first. Everything else is decoded as
// UTF-8 (invalid bytes become U+FFFD) and escaped by JSON.stringify.
import { isAscii } from 'node:buffer';
import { plainText, type AsciicastHeader } from '@ztsh/protocol';
import { escapeAsciiJson, maxEscapedLength, endsInsideUtf8Sequence } from './json-ascii.ts';
import type { RecordingSink } from './recording-sink.ts';

export const FLUSH_MS = 500;
/** Write out sooner than FLUSH_MS when this much is waiting (a busy stream). */
const FLUSH_BYTES = 256 * 1024;
/** What the text search keeps of a session, per direction. */
const TEXT_CAP = 1024 * 1024;
const SMALL_BUFFER = 8 * 1024;
/** Longer output is recorded as several events with the same time. */
const MAX_EVENT_BYTES = 64 * 1024;
/** `[` + seconds (6 decimals) + `,"o",` + `"` … `"` + `]\n`, with room for a session of years. */
const LINE_OVERHEAD = 40;

type Kind = 'o' | 'i';

export class AsciicastWriter {
  /** Lines not written yet: bytes [0, used). Small while the session is quiet (an idle shell). */
  private pending = Buffer.allocUnsafe(SMALL_BUFFER);
  private used = 0;
  /** A flush was due to size since the last tick. */
  private busy = false;
  private timer: NodeJS.Timeout;
  private readonly started: number;
  private closed = false;
  private readonly decoders = { o: new TextDecoder('utf-8'), i: new TextDecoder('utf-8') };
  /** The decoder may hold the first bytes of a character cut by the chunk's end. */
  private readonly midSequence = { o: false, i: false };
  /** What was typed and shown, for the full-text index (escape sequences removed). */
  readonly text = { input: '', output: '' };
  private readonly indexed = { input: 0, output: 0 };

  constructor(
    readonly sink: RecordingSink,
    header: AsciicastHeader,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    sink.write(Buffer.from(JSON.stringify(header) + '\n'));
    this.timer = setInterval(() => this.tick(), FLUSH_MS);
    this.timer.unref();
  }

  output(data: Buffer): void {
    this.event('o', data);
  }

  input(data: Buffer): void {
    this.event('i', data);
  }

  resize(width: number, height: number): void {
    if (this.closed) return;
    this.line('r', JSON.stringify(`${width}x${height}`));
  }

  private event(kind: Kind, data: Buffer): void {
    if (this.closed || data.length === 0) return;
    // One event per slice bounds the room a line needs; the replay is the same.
    for (let at = 0; at < data.length; at += MAX_EVENT_BYTES) this.slice(kind, data.length <= MAX_EVENT_BYTES ? data : data.subarray(at, at + MAX_EVENT_BYTES));
  }

  private slice(kind: Kind, data: Buffer): void {
    if (!this.midSequence[kind] && isAscii(data)) {
      // ASCII decodes to the same characters, one per byte: escape the bytes themselves.
      const at = this.begin(kind, maxEscapedLength(data), true);
      this.used = escapeAsciiJson(data, this.pending, at);
      this.end(true);
      this.index(kind, data.length, (n) => data.toString('latin1', 0, n));
      return;
    }
    const text = this.decoders[kind].decode(data, { stream: true });
    this.midSequence[kind] = endsInsideUtf8Sequence(data);
    if (!text) return;
    this.line(kind, JSON.stringify(text));
    this.index(kind, text.length, (n) => (n < text.length ? text.slice(0, n) : text));
  }

  /** The index sees the first TEXT_CAP characters each way; after that only the file keeps it. */
  private index(kind: Kind, length: number, take: (n: number) => string): void {
    const key = kind === 'o' ? 'output' : 'input';
    const left = TEXT_CAP - this.indexed[key];
    if (left <= 0) return;
    const n = Math.min(left, length);
    this.indexed[key] += n;
    this.text[key] += plainText(take(n));
  }

  private line(code: string, json: string): void {
    this.begin(code, 3 * json.length, false);
    this.used += this.pending.write(json, this.used, 'utf8');
    this.end(false);
  }

  /**
   * Makes room for a line whose JSON string takes at most `room` bytes and
   * writes its start, with the string's opening quote if `quote`. Returns
   * where the rest of the line goes.
   */
  private begin(code: string, room: number, quote: boolean): number {
    const need = LINE_OVERHEAD + room;
    if (this.pending.length - this.used < need) {
      this.flush();
      // A busy stream gets room for a full batch; the timer shrinks the buffer once it is quiet.
      if (this.pending.length < need) this.pending = Buffer.allocUnsafe(need + FLUSH_BYTES);
    }
    this.used += this.pending.write(`[${this.elapsed()},"${code}",${quote ? '"' : ''}`, this.used, 'latin1');
    return this.used;
  }

  private end(quote: boolean): void {
    this.used += this.pending.write(quote ? '"]\n' : ']\n', this.used, 'latin1');
    if (this.used >= FLUSH_BYTES) {
      this.flush();
      this.busy = true;
    }
  }

  /** Every FLUSH_MS: writes what waits; a buffer grown for a stream that went quiet goes back to the small size. */
  private tick(): void {
    this.flush();
    if (!this.busy && this.pending.length > SMALL_BUFFER) this.pending = Buffer.allocUnsafe(SMALL_BUFFER);
    this.busy = false;
  }

  private elapsed(): string {
    return ((this.now() - this.started) / 1000).toFixed(6);
  }

  flush(): void {
    if (this.used === 0 || this.closed) return;
    const chunk = this.pending.subarray(0, this.used);
    this.used = 0;
    this.sink.write(chunk);
  }

  /** While the sink is behind: resolves once it can take more. The relay stops reading the session until then. */
  backpressure(): Promise<void> | undefined {
    return this.sink.whenWritable?.();
  }

  /** Hands over what is left and closes the sink; resolves to the recording's size once the sink holds it all. */
  async close(): Promise<number> {
    if (this.closed) return this.sink.close();
    clearInterval(this.timer);
    let failed: unknown;
    try {
      this.flush();
    } catch (error) {
      failed = error;
    }
    this.closed = true;
    // The sink is closed even when the last lines could not be written to it.
    const size = await this.sink.close();
    if (failed !== undefined) throw failed;
    return size;
  }
}
