import { constants, createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { castText, isGzipCast, recordingName } from './cast-file.ts';

const CAST = '{"version":2,"width":80,"height":24,"timestamp":0}\n[0.5,"o","hello\\r\\n"]\n';

/** A gzip stream sync-flushed after `flushed` and cut right after, as a kill -9 leaves it. */
function cutAfterSyncFlush(flushed: string, unflushed: string): Promise<Buffer> {
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
  it('names new recordings .cast.gz and tells gzip from plain by the name', () => {
    expect(recordingName('abc')).toBe('abc.cast.gz');
    expect(isGzipCast('2026-01-01/abc.cast.gz')).toBe(true);
    expect(isGzipCast('2026-01-01/abc.cast')).toBe(false);
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
