import { describe, expect, it } from 'vitest';
import { endsInsideUtf8Sequence, escapeAsciiJson, maxEscapedLength } from './json-ascii.ts';

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
