import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAsciicast, RecordingDecoder } from '@ztsh/protocol';
import { RecordingWriter } from './recording-writer.ts';
import { fileSink } from './recording-sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'ztsh-recording-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Records the chunks as output (and the input chunks as input), then reads the file back. */
async function record(output: Buffer[], input: Buffer[] = []) {
  const path = join(dir, `${files++}.ztrec`);
  const writer = new RecordingWriter(fileSink(path), { version: 2, width: 80, height: 24, timestamp: 0 });
  for (const chunk of input) writer.input(chunk);
  for (const chunk of output) writer.output(chunk);
  const size = await writer.close();
  const decoder = new RecordingDecoder();
  const text = Buffer.concat(decoder.push(readFileSync(path))).toString('utf8');
  expect(decoder.whole).toBe(true);
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

describe('RecordingWriter', () => {
  it('records NUL output exactly, each byte once (its asciicast escape is made when it is read)', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(32 * 1024 - 1));
    const r = await record(chunks);
    expect(r.output).toBe('\0'.repeat(40 * (32 * 1024 - 1)));
    expect(r.size).toBeLessThan(40 * 32 * 1024 + 4096);
    expect(Buffer.byteLength(r.text)).toBeGreaterThan(6 * 40 * (32 * 1024 - 1));
  });

  it('reads back as the asciicast lines a player reads, timed from the start', async () => {
    const path = join(dir, `${files++}.ztrec`);
    let t = 1_000;
    const writer = new RecordingWriter(fileSink(path), { version: 2, width: 80, height: 24, timestamp: 0 }, () => (t += 10));
    writer.output(Buffer.from('$ ls\r\n"a"\tb\\c\n'));
    writer.input(Buffer.from('é'));
    writer.resize(120, 40);
    await writer.close();
    const text = Buffer.concat(new RecordingDecoder().push(readFileSync(path))).toString('utf8');
    expect(text).toBe(
      '{"version":2,"width":80,"height":24,"timestamp":0}\n' +
        '[0.010000,"o","$ ls\\r\\n\\"a\\"\\tb\\\\c\\n"]\n' +
        '[0.020000,"i","é"]\n' +
        '[0.030000,"r","120x40"]\n',
    );
  });

  it('records only the terminal sizes a container could be given', async () => {
    const path = join(dir, `${files++}.ztrec`);
    const writer = new RecordingWriter(fileSink(path), { version: 2, width: 80, height: 24, timestamp: 0 });
    for (const [w, h] of [[1e300, 24], [-1, 24], [80.5, 24], [Number.NaN, 24], [80, 65536], [0, 0], [65535, 1]]) writer.resize(w!, h!);
    await writer.close();
    const cast = parseAsciicast(Buffer.concat(new RecordingDecoder().push(readFileSync(path))).toString('utf8'));
    expect(cast.events.map((e) => e[2])).toEqual(['0x0', '65535x1']);
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
