// A session recording as it happens: the bytes each side sent, with their
// time, in the events format (recording-events.ts in @ztsh/protocol), which
// readers get as asciicast v2. Events go to the sink (gzip into a file, or
// into chunks in auth's store: recording-sink.ts) at least every FLUSH_MS,
// so a crash of the proxy loses at most that much (and what the store had
// not taken yet); close() waits until the sink holds everything.
//
// The writer sits in the path of every exec byte, so an event is a 13-byte
// header and a copy of the bytes into one pending buffer: nothing is
// escaped or decoded (that happens when a recording is read). Only the
// first TEXT_CAP characters each way are decoded, for the full-text index.
import {
  EVENT_HEADER_BYTES,
  EVENT_INPUT,
  EVENT_OUTPUT,
  EVENT_RESIZE,
  MAX_EVENT_BYTES,
  plainText,
  recordingPreamble,
  writeEventHeader,
  type AsciicastHeader,
} from '@ztsh/protocol';
import type { RecordingSink } from './recording-sink.ts';

export const FLUSH_MS = 500;
/** Write out sooner than FLUSH_MS when this much is waiting (a busy stream). */
const FLUSH_BYTES = 256 * 1024;
/** What the text search keeps of a session, per direction. */
const TEXT_CAP = 1024 * 1024;
const SMALL_BUFFER = 8 * 1024;
/** Terminal sizes are 16-bit in Kubernetes' TerminalSize. */
const MAX_TERMINAL_SIDE = 0xffff;

type Direction = 'input' | 'output';

export class RecordingWriter {
  /** Events not written yet: bytes [0, used). Small while the session is quiet (an idle shell). */
  private pending = Buffer.allocUnsafe(SMALL_BUFFER);
  private used = 0;
  /** A flush was due to size since the last tick. */
  private busy = false;
  private timer: NodeJS.Timeout;
  private readonly started: number;
  private closed = false;
  private readonly decoders = { output: new TextDecoder('utf-8'), input: new TextDecoder('utf-8') };
  /** What was typed and shown, for the full-text index (escape sequences removed). */
  readonly text = { input: '', output: '' };
  private readonly indexed = { input: 0, output: 0 };

  constructor(
    readonly sink: RecordingSink,
    header: AsciicastHeader,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    sink.write(recordingPreamble(header));
    this.timer = setInterval(() => this.tick(), FLUSH_MS);
    this.timer.unref();
  }

  output(data: Buffer): void {
    this.event(EVENT_OUTPUT, 'output', data);
  }

  input(data: Buffer): void {
    this.event(EVENT_INPUT, 'input', data);
  }

  /** A size the container's terminal could take (whole numbers Kubernetes' 16-bit TerminalSize holds); any other is not recorded, as the container never got it. */
  resize(width: number, height: number): void {
    if (this.closed || !terminalSide(width) || !terminalSide(height)) return;
    const size = Buffer.from(`${width}x${height}`, 'latin1');
    this.append(EVENT_RESIZE, size);
  }

  private event(kind: number, direction: Direction, data: Buffer): void {
    if (this.closed || data.length === 0) return;
    this.index(direction, data);
    // Longer output becomes several events with the same time; the replay is the same.
    if (data.length <= MAX_EVENT_BYTES) return this.append(kind, data);
    for (let at = 0; at < data.length; at += MAX_EVENT_BYTES) this.append(kind, data.subarray(at, at + MAX_EVENT_BYTES));
  }

  private append(kind: number, data: Buffer): void {
    const need = EVENT_HEADER_BYTES + data.length;
    if (this.pending.length - this.used < need) {
      this.flush();
      // A busy stream gets room for a full batch; the timer shrinks the buffer once it is quiet.
      if (this.pending.length < need) this.pending = Buffer.allocUnsafe(need + FLUSH_BYTES);
    }
    const at = writeEventHeader(this.pending, this.used, kind, (this.now() - this.started) / 1000, data.length);
    this.used = at + data.copy(this.pending, at);
    if (this.used >= FLUSH_BYTES) {
      this.flush();
      this.busy = true;
    }
  }

  /** The index sees the first TEXT_CAP characters each way, decoded as a terminal would; after that only the recording keeps it. */
  private index(direction: Direction, data: Buffer): void {
    const left = TEXT_CAP - this.indexed[direction];
    if (left <= 0) return;
    const text = this.decoders[direction].decode(data, { stream: true });
    const n = Math.min(left, text.length);
    this.indexed[direction] += n;
    this.text[direction] += plainText(n < text.length ? text.slice(0, n) : text);
  }

  /** Every FLUSH_MS: writes what waits; a buffer grown for a stream that went quiet goes back to the small size. */
  private tick(): void {
    this.flush();
    if (!this.busy && this.pending.length > SMALL_BUFFER) this.pending = Buffer.allocUnsafe(SMALL_BUFFER);
    this.busy = false;
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
    // The sink is closed even when the last events could not be written to it.
    const size = await this.sink.close();
    if (failed !== undefined) throw failed;
    return size;
  }
}

function terminalSide(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_TERMINAL_SIDE;
}
