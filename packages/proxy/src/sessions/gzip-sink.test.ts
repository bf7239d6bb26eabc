import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { castText, parseAsciicast, RecordingDecoder } from '@ztsh/protocol';
import { RecordingWriter } from './recording-writer.ts';
import { gzipSink, HIGH_WATER_BYTES, MAX_BACKLOG_BYTES } from './gzip-sink.ts';
import { fileSink, type RecordingSink } from './recording-sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'ztsh-castgz-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 0 };

/** An inner sink that keeps what it is given in memory. */
function memorySink() {
  const pieces: Buffer[] = [];
  let failed: ((error: Error) => void) | undefined;
  let throwOnWrite = false;
  const sink: RecordingSink = {
    write(bytes) {
      if (throwOnWrite) throw new Error('ENOSPC: no space left on device');
      pieces.push(Buffer.from(bytes));
    },
    opened: () => Promise.resolve(),
    close: () => Promise.resolve(pieces.reduce((n, p) => n + p.length, 0)),
    onFailure: (listener) => (failed = listener),
  };
  return { sink, bytes: () => Buffer.concat(pieces), fail: (e: Error) => failed?.(e), breakWrites: () => (throwOnWrite = true) };
}

describe('gzipSink', () => {
  it('writes the same recording as the plain file, as one gzip stream', async () => {
    const chunks = [Buffer.from('hello\r\n'), Buffer.alloc(70_000), Buffer.from('héllo wörld ✓\n'), Buffer.from('"quoted" \\ back\x1b[0m\n')];
    const record = async (gzip: boolean) => {
      const path = join(dir, `${files++}.ztrec${gzip ? '.gz' : ''}`);
      let t = 0;
      const writer = new RecordingWriter(gzip ? gzipSink(fileSink(path)) : fileSink(path), HEADER, () => (t += 10));
      for (const c of chunks) writer.output(c);
      writer.resize(120, 40);
      writer.input(Buffer.from('exit\r'));
      const size = await writer.close();
      return { path, size, bytes: readFileSync(path) };
    };
    const plain = await record(false);
    const gz = await record(true);
    expect(gz.size).toBe(gz.bytes.length);
    // A whole gzip stream (trailer and all): strict gunzip reads it.
    expect(gunzipSync(gz.bytes).equals(plain.bytes)).toBe(true);
    expect(castText(gz.bytes, gz.path)).toBe(Buffer.concat(new RecordingDecoder().push(plain.bytes)).toString('utf8'));
    // 70 kB of NULs compress to almost nothing.
    expect(gz.size * 20).toBeLessThan(plain.size);
  });

  it('hands over a sync-flushed stream after every batch, readable without a trailer', async () => {
    const inner = memorySink();
    const writer = new RecordingWriter(gzipSink(inner.sink), HEADER);
    for (let batch = 0; batch < 5; batch++) {
      writer.output(Buffer.from(`batch-${batch}\n`));
      writer.flush();
      // Without close(): the batch decodes from what the inner sink holds once zlib is done with it.
      await expect.poll(() => parseAsciicast(castText(inner.bytes(), 'x.ztrec.gz')).events.map((e) => e[2]).join('')).toContain(`batch-${batch}\n`);
      expect(() => gunzipSync(inner.bytes())).toThrow(/unexpected end of file/);
    }
    await writer.close();
    expect(gunzipSync(inner.bytes()).toString()).toContain('batch-4');
  });

  it('asks the relay to wait while zlib is behind, and lets it go once it caught up', async () => {
    const inner = memorySink();
    const sink = gzipSink(inner.sink);
    expect(sink.whenWritable!()).toBeUndefined();
    const big = Buffer.alloc(HIGH_WATER_BYTES + 1, 'x');
    sink.write(big);
    const wait = sink.whenWritable!();
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(sink.whenWritable!()).toBeUndefined();
    await sink.close();
    expect(gunzipSync(inner.bytes()).equals(big)).toBe(true);
  });

  it('fails the recording, never throws, when more than the bound waits for zlib', async () => {
    const inner = memorySink();
    const sink = gzipSink(inner.sink);
    const failures: Error[] = [];
    sink.onFailure((e) => failures.push(e));
    const part = Buffer.alloc(4 * 1024 * 1024, 'y');
    for (let i = 0; i <= MAX_BACKLOG_BYTES / part.length; i++) expect(() => sink.write(part)).not.toThrow();
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/behind/);
    await sink.close();
  });

  it('turns a write the inner sink refuses (disk full) into a failure instead of an uncaught throw', async () => {
    const inner = memorySink();
    const sink = gzipSink(inner.sink);
    const failed = new Promise<Error>((resolve) => sink.onFailure(resolve));
    inner.breakWrites();
    sink.write(Buffer.from('{"version":2}\n'));
    expect((await failed).message).toMatch(/ENOSPC/);
    await sink.close();
  });

  it('passes on a failure of the inner sink (the store fell behind)', async () => {
    const inner = memorySink();
    const sink = gzipSink(inner.sink);
    const failures: Error[] = [];
    sink.onFailure((e) => failures.push(e));
    inner.fail(new Error('the recording store is more than 32 MiB behind'));
    expect(failures.map((e) => e.message)).toEqual(['the recording store is more than 32 MiB behind']);
    await expect(sink.opened()).rejects.toThrow(/behind/);
  });
});

/** The real writer and sinks in a process of its own, recording output events a batch at a time until it is killed. */
const CHILD = `
const { RecordingWriter } = await import(${JSON.stringify(new URL('./recording-writer.ts', import.meta.url).href)});
const { gzipSink } = await import(${JSON.stringify(new URL('./gzip-sink.ts', import.meta.url).href)});
const { fileSink } = await import(${JSON.stringify(new URL('./recording-sink.ts', import.meta.url).href)});
const writer = new RecordingWriter(gzipSink(fileSink(process.argv[1])), { version: 2, width: 80, height: 24, timestamp: 0 });
let n = 0;
setInterval(() => {
  for (let i = 0; i < 10; i++) writer.output(Buffer.from('line-' + n++ + '\\r\\n'));
  writer.flush();
}, 5);
`;

describe('a recording whose writer was killed with -9', () => {
  it('reads back up to the last sync flush', async () => {
    const path = join(dir, `${files++}.ztrec.gz`);
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', CHILD, path], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      // Wait until a good many batches are on disk, then kill it mid-stream.
      const lastLine = () => {
        try {
          const events = parseAsciicast(castText(readFileSync(path), path)).events;
          return Number(/line-(\d+)/.exec(events[events.length - 1]?.[2] ?? '')?.[1] ?? -1);
        } catch {
          return -1;
        }
      };
      await expect.poll(lastLine, { timeout: 60_000, interval: 20 }).toBeGreaterThan(200);
      const seenBeforeKill = lastLine();
      child.kill('SIGKILL');
      await exited;
      const bytes = readFileSync(path);
      // Killed: no gzip trailer, so a strict reader fails...
      expect(() => gunzipSync(bytes)).toThrow(/unexpected end of file/);
      // ...and the tolerant one reads every line, in order, at least up to what was there before the kill.
      const cast = parseAsciicast(castText(bytes, path));
      expect(cast.header.version).toBe(2);
      const lines = cast.events.map((e) => e[2]);
      expect(lines.length).toBeGreaterThanOrEqual(seenBeforeKill + 1);
      lines.forEach((line, i) => expect(line).toBe(`line-${i}\r\n`));
    } finally {
      child.kill('SIGKILL');
    }
  });
});
