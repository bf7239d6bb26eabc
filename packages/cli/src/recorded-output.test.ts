import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordedText, ReplayFilter } from './recorded-output.ts';

const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('recordedText (play --format text)', () => {
  it('item 7: drops colours and cursor moves, keeps lines', () => {
    expect(recordedText('\x1b[01;34mdir\x1b[0m  file\r\n$ \x1b[K')).toBe('dir  file\n$ ');
  });

  it('item 7: shows OSC 52, OSC 0, DCS and lone controls instead of passing them', () => {
    expect(recordedText('a\x1b]52;c;ZXZpbA==\x07b')).toBe('a\\x1b]52;c;ZXZpbA==\\x07b');
    expect(recordedText('\x1b]0;pwned\x1b\\')).toBe('\\x1b]0;pwned\\x1b\\');
    expect(recordedText('\x1bP+q544e\x1b\\')).toBe('\\x1bP+q544e\\x1b\\');
    expect(recordedText('rm -rf /\rls   ')).toBe('rm -rf /\\rls   ');
    expect(recordedText('x\u009b6n\x7f\x08')).toBe('x\\u009b6n\\x7f\\x08');
    expect(recordedText('cut \x1b]52;c;Zm9v')).toBe('cut \\x1b]52;c;Zm9v');
    expect(recordedText('end\x1b')).toBe('end\\x1b');
  });

  it('never leaves a raw control character but newline and tab (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => !RAW_CONTROL.test(recordedText(s))));
    const pieces = fc.constantFrom('\x1b', '[', ']', '52;', '\x07', '\\', 'P', '0m', 'a', '\r', '\n', '\u009b', '\u009c');
    fc.assert(fc.property(fc.array(pieces), (a) => !RAW_CONTROL.test(recordedText(a.join('')))));
  });
});

describe('ReplayFilter (play)', () => {
  const replay = (chunks: string[]) => {
    const f = new ReplayFilter();
    return chunks.map((c) => f.push(c)).join('') + f.end();
  };

  it('item 7: passes drawing sequences, drops OSC, DCS, answer-back queries and C1', () => {
    expect(replay(['\x1b[31mred\r\n'])).toBe('\x1b[31mred\r\n\x1b[0m');
    expect(replay(['\x1b(0lqk\x1b[1m'])).toBe('\x1b(0lqk\x1b[1m\x1b(B\x1b[0m');
    expect(replay(['a\x1b]52;c;ZXZpbA==\x07b'])).toBe('ab');
    expect(replay(['\x1b]0;title\x1b\\x'])).toBe('x');
    expect(replay(['\x1b[6n\x1b[c\x1b[>c\x1b[21t\x1b[?2026$p\x1bZ'])).toBe('');
    expect(replay(['\u009b6n\u009d52;c;x\u009c\x07\x0e'])).toBe('6n52;c;x');
    expect(replay(['\x1bP$qm\x1b\\'])).toBe('');
  });

  it('item 7: holds a sequence split across chunks until it is whole', () => {
    expect(replay(['a\x1b]5', '2;c;ZXZp', 'bA==\x07b'])).toBe('ab');
    expect(replay(['\x1b', '[3', '1mx'])).toBe('\x1b[31mx\x1b[0m');
    // Cut off at the end: what was held is made harmless.
    expect(replay(['\x1b]52;c;ZXZp'])).not.toMatch(/\x1b\]/);
  });

  it('never lets a string sequence or C1 through, however the chunks fall (property)', () => {
    const pieces = fc.constantFrom('\x1b', '[', ']', '52;', '\x07', '\\', 'P', '0m', 'a', '\r', '\n', '\u009b', '\u009c', '6n');
    fc.assert(
      fc.property(fc.array(fc.array(pieces)), (chunks) => {
        const out = replay(chunks.map((c) => c.join('')));
        return !/\x1b[\]P_^X]/.test(out) && !/[\u0080-\u009f]/.test(out) && !/\x1b\[[0-?]*[ -/]*[cntx]/.test(out);
      }),
    );
  });
});
