import { constants, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { castStream, castText, recordingFormat, recordingName, recordingNames } from './cast-file.ts';
import { EVENT_HEADER_BYTES, EVENT_OUTPUT, recordingPreamble, writeEventHeader } from './recording-events.ts';

const CAST = '{"version":2,"width":80,"height":24,"timestamp":0}\n[0.5,"o","hello\\r\\n"]\n';

/** A gzip stream sync-flushed after `flushed` and cut right after, as a kill -9 leaves it. */
function cutAfterSyncFlush(flushed: string | Buffer, unflushed: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const gz = createGzip();
    const out: Buffer[] = [];
    gz.on('data', (d: Buffer) => out.push(d));
    gz.write(flushed);
    gz.flush(constants.Z_SYNC_FLUSH, () => {
      const atFlush = Buffer.concat(out);
      gz.write(unflushed); // still inside zlib: never on disk
      gz.destroy();
      resolve(atFlush);
    });
  });
}

describe('cast files', () => {
  it('names new recordings .ztrec.gz and tells the formats apart by the name', () => {
    expect(recordingName('abc')).toBe('abc.ztrec.gz');
    expect(recordingNames('abc')).toEqual(['abc.ztrec.gz', 'abc.cast.gz', 'abc.cast']);
    expect(recordingFormat('2026-01-01/abc.ztrec.gz')).toBe('ztrec.gz');
    expect(recordingFormat('2026-01-01/abc.cast.gz')).toBe('cast.gz');
    expect(recordingFormat('2026-01-01/abc.cast')).toBe('cast');
  });

  it('reads plain and gzip alike', () => {
    expect(castText(Buffer.from(CAST), 'a.cast')).toBe(CAST);
    expect(castText(gzipSync(CAST), 'a.cast.gz')).toBe(CAST);
    expect(castText(new Uint8Array(gzipSync(CAST)), 'a.cast.gz')).toBe(CAST);
  });

  it('reads a stream cut after a sync flush, up to that flush', async () => {
    const cut = await cutAfterSyncFlush(CAST, '[0.9,"o","lost"]\n');
    expect(castText(cut, 'a.cast.gz')).toBe(CAST);
  });

  it('reads a stream cut anywhere up to where its bytes run out', () => {
    const whole = gzipSync(CAST + '[1.0,"o","' + 'x'.repeat(5000) + '"]\n');
    const text = castText(whole.subarray(0, Math.floor(whole.length / 2)), 'a.cast.gz');
    expect(text.startsWith('{"version":2')).toBe(true);
  });

  it('refuses what is not gzip, with the path in the message', () => {
    expect(() => castText(Buffer.from(CAST), '2026-01-01/a.cast.gz')).toThrow(/2026-01-01\/a\.cast\.gz is not a readable gzip stream/);
  });

  it('refuses to decode more than the cap (a gzip bomb) instead of filling memory', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(128 * 1024);
    expect(() => castText(bomb, 'a.cast.gz', 1024 * 1024)).toThrow(/decodes to more than 1 MiB/);
  });
});

describe('events recordings', () => {
  const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 0 };
  const output = (seconds: number, data: Buffer) => {
    const head = Buffer.alloc(EVENT_HEADER_BYTES);
    writeEventHeader(head, 0, EVENT_OUTPUT, seconds, data.length);
    return Buffer.concat([head, data]);
  };
  const EVENTS = Buffer.concat([recordingPreamble(HEADER), output(0.5, Buffer.from('hello\r\n'))]);
  const AS_CAST = `${JSON.stringify(HEADER)}\n[0.500000,"o","hello\\r\\n"]\n`;
  const read = async (stream: Readable) => {
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return Buffer.concat(parts);
  };

  it('read as asciicast, whole or cut after a sync flush', async () => {
    expect(castText(gzipSync(EVENTS), 'a.ztrec.gz')).toBe(AS_CAST);
    const cut = await cutAfterSyncFlush(EVENTS, '');
    expect(castText(cut, 'a.ztrec.gz')).toBe(AS_CAST);
  });

  it('streamed as asciicast, gzip-encoded again when asked', async () => {
    expect((await read(castStream(Readable.from([gzipSync(EVENTS)]), 'a.ztrec.gz', false))).toString()).toBe(AS_CAST);
    expect(gunzipSync(await read(castStream(Readable.from([gzipSync(EVENTS)]), 'a.ztrec.gz', true))).toString()).toBe(AS_CAST);
    expect((await read(castStream(Readable.from([gzipSync(CAST)]), 'a.cast.gz', false))).toString()).toBe(CAST);
  });

  it('refuses what is not one, with the path in the message, streamed or not', async () => {
    expect(() => castText(gzipSync(CAST), '2026-01-01/a.ztrec.gz')).toThrow(/2026-01-01\/a\.ztrec\.gz cannot be read: not a ztsh recording/);
    expect(() => castText(gzipSync(''), 'a.ztrec.gz')).toThrow(/ends before its header/);
    await expect(read(castStream(Readable.from([gzipSync(CAST)]), 'a.ztrec.gz', true))).rejects.toThrow(/not a ztsh recording/);
    await expect(read(castStream(Readable.from([Buffer.from('not gzip')]), 'a.ztrec.gz', false))).rejects.toThrow();
  });

  it('refuses to make more asciicast than the cap from a small file (NULs grow six times)', () => {
    const nuls = Buffer.concat([recordingPreamble(HEADER), ...Array.from({ length: 4 }, (_, i) => output(i, Buffer.alloc(64 * 1024)))]);
    expect(() => castText(gzipSync(nuls), 'a.ztrec.gz', 1024 * 1024)).toThrow(/decodes to more than 1 MiB/);
  });
});
