// A session recording as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
// a JSON header line, then one JSON array per event: [seconds, "o"|"i"|"r", data].
// Lines are written to the file at least every FLUSH_MS, so a crash of
// the proxy loses at most that much; close() also fsyncs.
import { closeSync, fsyncSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { plainText, type AsciicastHeader } from '@ztsh/protocol';

export const FLUSH_MS = 500;
/** Write out sooner than FLUSH_MS when this much is waiting (a busy stream). */
const FLUSH_BYTES = 256 * 1024;
/** What the text search keeps of a session, per direction. */
const TEXT_CAP = 1024 * 1024;

export class AsciicastWriter {
  private fd: number;
  private lines: string[] = [];
  private waiting = 0;
  private timer: NodeJS.Timeout;
  private readonly started: number;
  private size = 0;
  private closed = false;
  private readonly decoders = { o: new TextDecoder('utf-8'), i: new TextDecoder('utf-8') };
  /** What was typed and shown, for the full-text index (escape sequences removed). */
  readonly text = { input: '', output: '' };
  private readonly indexed = { input: 0, output: 0 };

  constructor(
    readonly path: string,
    header: AsciicastHeader,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'wx', 0o600);
    this.started = now();
    this.writeNow(JSON.stringify(header) + '\n');
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  output(data: Buffer): void {
    this.event('o', data);
  }

  input(data: Buffer): void {
    this.event('i', data);
  }

  resize(width: number, height: number): void {
    this.push(`[${this.elapsed()},"r",${JSON.stringify(`${width}x${height}`)}]\n`);
  }

  private event(kind: 'o' | 'i', data: Buffer): void {
    if (this.closed || data.length === 0) return;
    const text = this.decoders[kind].decode(data, { stream: true });
    if (!text) return;
    this.push(`[${this.elapsed()},"${kind}",${JSON.stringify(text)}]\n`);
    // The index sees the first TEXT_CAP characters each way; after that only the file keeps it.
    const key = kind === 'o' ? 'output' : 'input';
    const left = TEXT_CAP - this.indexed[key];
    if (left > 0) {
      const part = text.length > left ? text.slice(0, left) : text;
      this.indexed[key] += part.length;
      this.text[key] += plainText(part);
    }
  }

  private elapsed(): string {
    return ((this.now() - this.started) / 1000).toFixed(6);
  }

  private push(line: string): void {
    if (this.closed) return;
    this.lines.push(line);
    this.waiting += line.length;
    if (this.waiting >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.lines.length === 0 || this.closed) return;
    const chunk = this.lines.join('');
    this.lines = [];
    this.waiting = 0;
    this.writeNow(chunk);
  }

  private writeNow(text: string): void {
    const bytes = Buffer.from(text);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off);
    this.size += bytes.length;
  }

  /** Writes what is left, fsyncs, closes; returns the file's size. */
  close(): number {
    if (this.closed) return this.size;
    this.flush();
    this.closed = true;
    clearInterval(this.timer);
    try {
      fsyncSync(this.fd);
      this.size = fstatSync(this.fd).size;
    } finally {
      closeSync(this.fd);
    }
    return this.size;
  }
}
