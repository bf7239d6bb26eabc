import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAsciicast } from '@ztsh/protocol';
import { AsciicastWriter } from './asciicast.ts';
import { fileSink } from './recording-sink.ts';
import { endsInsideUtf8Sequence, escapeAsciiJson, maxEscapedLength } from './json-ascii.ts';

const dir = mkdtempSync(join(tmpdir(), 'ztsh-cast-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Records the chunks as output (and the input chunks as input), then reads the file back. */
async function record(output: Buffer[], input: Buffer[] = []) {
  const path = join(dir, `${files++}.cast`);
  const writer = new AsciicastWriter(fileSink(path), { version: 2, width: 80, height: 24, timestamp: 0 });
  for (const chunk of input) writer.input(chunk);
  for (const chunk of output) writer.output(chunk);
  const size = await writer.close();
  const text = readFileSync(path, 'utf8');
  const cast = parseAsciicast(text);
  const of = (code: string) => cast.events.filter((e) => e[1] === code).map((e) => e[2]).join('');
  return { text, size, cast, output: of('o'), input: of('i'), writer };
}

/** What a terminal would be shown: the whole stream decoded at once. */
const decoded = (chunks: Buffer[]) => new TextDecoder().decode(Buffer.concat(chunks));

/** A deterministic mix of ASCII, controls, NUL runs, multi-byte characters and invalid bytes. */
function randomBytes(seed: number, length: number): Buffer {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 8;
  const parts: Buffer[] = [];
  let n = 0;
  while (n < length) {
    const pick = next() % 7;
    const part =
      pick === 0 ? Buffer.alloc(1 + (next() % 300)) // a NUL run
      : pick === 1 ? Buffer.from('héllo wörld → ✓ 🙂 ')
      : pick === 2 ? Buffer.from([next() % 256, next() % 256, next() % 256]) // anything, invalid UTF-8 too
      : pick === 3 ? Buffer.from('"quoted" back\\slash \x1b[1;31mred\x1b[0m\r\n\t\b\f\x7f')
      : Buffer.from('plain text line with nothing to escape\n');
    parts.push(part);
    n += part.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** Cuts a buffer at pseudo-random places, single bytes among them. */
function cut(buf: Buffer, seed: number): Buffer[] {
  let x = seed;
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    x = (x * 69069 + 1) >>> 0;
    const size = x % 5 === 0 ? 1 : 1 + ((x >>> 8) % 4000);
    chunks.push(buf.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('escapeAsciiJson', () => {
  it('writes exactly what JSON.stringify writes, for every ASCII byte and runs of each', () => {
    const all = Buffer.from(Array.from({ length: 128 }, (_, b) => b));
    const runs = Buffer.concat(Array.from({ length: 128 }, (_, b) => Buffer.alloc(1 + (b % 5), b)));
    for (const src of [all, runs, Buffer.alloc(0), Buffer.alloc(10_000)]) {
      const out = Buffer.alloc(maxEscapedLength(src));
      const end = escapeAsciiJson(src, out, 0);
      expect(out.subarray(0, end).toString('latin1')).toBe(JSON.stringify(src.toString('latin1')).slice(1, -1));
    }
  });
});

describe('endsInsideUtf8Sequence', () => {
  it.each([
    ['ASCII', 'abc', false],
    ['a whole 2-byte character', 'é', false],
    ['a whole 4-byte character', '🙂', false],
    ['the first byte of é', Buffer.from('é').subarray(0, 1), true],
    ['two of the three bytes of ✓', Buffer.from('a✓').subarray(0, 3), true],
    ['three of the four bytes of 🙂', Buffer.from('ab🙂').subarray(0, 5), true],
    ['a continuation byte alone', Buffer.from([0x98]), true],
  ] as const)('%s', (_, bytes, expected) => {
    expect(endsInsideUtf8Sequence(typeof bytes === 'string' ? Buffer.from(bytes) : bytes)).toBe(expected);
  });
});

describe('AsciicastWriter', () => {
  it('records NUL output exactly, in lines JSON.parse reads', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(32 * 1024 - 1));
    const r = await record(chunks);
    expect(r.output).toBe('\0'.repeat(40 * (32 * 1024 - 1)));
    expect(r.size).toBe(Buffer.byteLength(r.text));
  });

  it('records any bytes, cut anywhere, as a terminal decoding the whole stream would show them', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const bytes = randomBytes(seed, 20_000 + seed * 1000);
      const chunks = cut(bytes, seed);
      const r = await record(chunks, cut(randomBytes(seed + 100, 3000), seed + 7));
      expect(r.output).toBe(decoded(chunks));
      expect(r.input).toBe(decoded(cut(randomBytes(seed + 100, 3000), seed + 7)));
    }
  });

  it('replaces a cut character followed by plain ASCII where it was, as a terminal would', async () => {
    const chunks = [Buffer.from('a'), Buffer.from([0xe2, 0x82]), Buffer.from('bc'), Buffer.from('✓'), Buffer.from([0xf0]), Buffer.from('d')];
    expect((await record(chunks)).output).toBe(decoded(chunks));
    expect(decoded(chunks)).toBe('a\ufffdbc✓\ufffdd');
  });

  it('splits a very large chunk into events that replay the same', async () => {
    const big = Buffer.concat([Buffer.from('x'.repeat(200_000)), Buffer.from('é'.repeat(50_000))]);
    const r = await record([big]);
    expect(r.output).toBe(big.toString('utf8'));
    expect(r.cast.events.length).toBeGreaterThan(1);
  });

  it('keeps the first characters of each direction as plain text for the index', async () => {
    const r = await record([Buffer.from('\x1b[1mbold\x1b[0m and \0 words\r\n')], [Buffer.from('typed\r')]);
    expect(r.writer.text.output).toBe('bold and  words\n');
    expect(r.writer.text.input).toBe('typed\n');
  });
});
