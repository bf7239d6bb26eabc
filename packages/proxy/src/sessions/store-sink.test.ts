import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAsciicast, RecordingDecoder, type RecordingAppender } from '@ztsh/protocol';
import { RecordingWriter, FLUSH_MS } from './recording-writer.ts';
import { GIVE_UP_MS, MAX_QUEUED_BYTES, storeSink } from './store-sink.ts';

const log = pino({ level: 'silent' });
const SESSION = '6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f';

/**
 * A recording store in memory, with the contract of auth's RecordingStore:
 * chunks by session and seq, a seq already stored is not stored again, read
 * gives the chunks in seq order. Appends take `delayMs` of (fake) time, and
 * it can be told to fail.
 */
class MemoryRecordingStore implements RecordingAppender {
  readonly chunks = new Map<string, Map<number, Buffer>>();
  /** Every call, in the order it was made. */
  readonly calls: { seq: number; at: number }[] = [];
  delayMs = 0;
  /** Store the chunk, then fail as if the answer were lost on the way back. */
  readonly loseReplyOnce = new Set<number>();
  /** Fail before storing, once per seq listed. */
  readonly refuseOnce = new Set<number>();
  down = false;

  async append(sessionId: string, seq: number, data: Uint8Array): Promise<void> {
    this.calls.push({ seq, at: Date.now() });
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.down) throw new Error('connection refused');
    if (this.refuseOnce.delete(seq)) throw new Error('connection reset before the write');
    const chunks = this.chunks.get(sessionId) ?? new Map<number, Buffer>();
    this.chunks.set(sessionId, chunks);
    if (!chunks.has(seq)) chunks.set(seq, Buffer.from(data));
    if (this.loseReplyOnce.delete(seq)) throw new Error('connection reset after the write');
  }

  read(sessionId: string): Buffer {
    const chunks = this.chunks.get(sessionId) ?? new Map<number, Buffer>();
    return Buffer.concat([...chunks.entries()].sort(([a], [b]) => a - b).map(([, data]) => data));
  }

  seqs(sessionId: string): number[] {
    return [...(this.chunks.get(sessionId)?.keys() ?? [])].sort((a, b) => a - b);
  }
}

const header = { version: 2 as const, width: 80, height: 24, timestamp: 0 };

const castOf = (bytes: Buffer) => parseAsciicast(Buffer.concat(new RecordingDecoder().push(bytes)).toString('utf8'));

function outputOf(bytes: Buffer): string[] {
  return castOf(bytes).events.filter((e) => e[1] === 'o').map((e) => e[2]);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-03-01T10:00:00Z'));
});
afterEach(() => vi.useRealTimers());

describe('storeSink', () => {
  it('under a steady trickle, every line is in the store at most a second after it was written', async () => {
    const store = new MemoryRecordingStore();
    store.delayMs = 40; // each append takes time
    const sink = storeSink({ sessionId: SESSION, store, log });
    const writer = new RecordingWriter(sink, header);
    await vi.advanceTimersByTimeAsync(0);
    const opened = sink.opened();
    await vi.advanceTimersByTimeAsync(store.delayMs);
    await opened;

    const written: { line: string; at: number }[] = [];
    const lateness: number[] = [];
    for (let i = 0; i < 120; i++) {
      const line = `line ${i}\r\n`;
      writer.output(Buffer.from(line));
      written.push({ line, at: Date.now() });
      await vi.advanceTimersByTimeAsync(100);
      // What was written a second ago or earlier is all in the store now.
      const stored = new Set(outputOf(store.read(SESSION)));
      const due = written.filter((w) => w.at <= Date.now() - 1000);
      for (const w of due) expect(stored.has(w.line), `${w.line.trim()} written at +${w.at - written[0]!.at} ms, now +${Date.now() - written[0]!.at} ms`).toBe(true);
      lateness.push(written.filter((w) => !stored.has(w.line)).length);
    }
    // Never more than a second's worth (10 lines at 10 a second) waited.
    expect(Math.max(...lateness)).toBeLessThanOrEqual(10);
    // It went out in many chunks as it ran, not in one at the end.
    expect(store.seqs(SESSION).length).toBeGreaterThanOrEqual((120 * 100) / FLUSH_MS - 2);
    const closing = writer.close();
    await vi.advanceTimersByTimeAsync(store.delayMs);
    expect(await closing).toBe(store.read(SESSION).length);
    expect(outputOf(store.read(SESSION))).toEqual(written.map((w) => w.line));
  });

  it('keeps the order and each chunk once when an append is retried, whether it was stored or not', async () => {
    const store = new MemoryRecordingStore();
    store.loseReplyOnce.add(1); // stored, but the proxy hears a failure
    store.refuseOnce.add(2); // not stored
    const sink = storeSink({ sessionId: SESSION, store, log });
    const writer = new RecordingWriter(sink, header);
    await sink.opened();
    const lines = Array.from({ length: 6 }, (_, i) => `out ${i}\n`);
    for (const line of lines) {
      writer.output(Buffer.from(line));
      await vi.advanceTimersByTimeAsync(FLUSH_MS);
    }
    const closing = writer.close();
    await vi.advanceTimersByTimeAsync(5_000);
    const size = await closing;

    const seqs = store.seqs(SESSION);
    expect(seqs).toEqual(seqs.map((_, i) => i)); // 0, 1, 2, … with no gap
    const tried = store.calls.map((c) => c.seq);
    expect(tried.filter((s) => s === 1)).toHaveLength(2);
    expect(tried.filter((s) => s === 2)).toHaveLength(2);
    // A seq is tried again before any later one: the store never sees them out of order.
    expect(tried).toEqual([...tried].sort((a, b) => a - b));
    expect(outputOf(store.read(SESSION))).toEqual(lines);
    expect(size).toBe(store.read(SESSION).length);
  });

  it('writes what is left when the session ends, before the next tick', async () => {
    const store = new MemoryRecordingStore();
    const sink = storeSink({ sessionId: SESSION, store, log });
    const writer = new RecordingWriter(sink, header);
    await sink.opened();
    writer.output(Buffer.from('the last words\r\n'));
    writer.resize(120, 40);
    const size = await writer.close();
    expect(outputOf(store.read(SESSION))).toEqual(['the last words\r\n']);
    expect(castOf(store.read(SESSION)).events.at(-1)).toEqual([0, 'r', '120x40']);
    expect(size).toBe(store.read(SESSION).length);
  });

  it('stores nothing of a session that never opened (refused at its start)', async () => {
    const store = new MemoryRecordingStore();
    const writer = new RecordingWriter(storeSink({ sessionId: SESSION, store, log }), header);
    writer.output(Buffer.from('never ran\n'));
    expect(await writer.close()).toBe(0);
    expect(store.calls).toEqual([]);
  });

  it('fails the recording, and says so once, when the store is more than the bound behind', async () => {
    const store = new MemoryRecordingStore();
    const sink = storeSink({ sessionId: SESSION, store, log });
    const writer = new RecordingWriter(sink, header);
    await sink.opened();
    store.delayMs = 60_000; // the store hangs
    const failures: Error[] = [];
    sink.onFailure((error) => failures.push(error));
    const mib = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < MAX_QUEUED_BYTES / mib.length + 2; i++) writer.output(mib);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/MiB behind/);
    // The session's end is not held up by what can no longer be stored.
    const closing = writer.close();
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(closing).resolves.toBeLessThan(2 * 1024 * 1024);
  });

  it('fails the recording after GIVE_UP_MS of failed appends, and a session whose header cannot be stored does not open', async () => {
    const store = new MemoryRecordingStore();
    store.down = true;
    const sink = storeSink({ sessionId: SESSION, store, log });
    new RecordingWriter(sink, header);
    const failures: Error[] = [];
    sink.onFailure((error) => failures.push(error));
    const opened = sink.opened();
    const outcome = opened.then(() => 'opened', (error: Error) => error.message);
    await vi.advanceTimersByTimeAsync(GIVE_UP_MS - 500);
    expect(failures).toEqual([]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(await outcome).toMatch(/failed for 10 s: connection refused/);
    expect(failures).toHaveLength(1);
  });
});
