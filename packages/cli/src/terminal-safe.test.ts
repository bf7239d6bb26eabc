import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCliError, CliError } from './cli-error.ts';
import { formatTable } from './table.ts';
import { safeJson, safeJsonText, safeLines, safeText } from './terminal-safe.ts';

/** Anything a terminal could act on: C0 but newline and tab, DEL, C1, and the bidi and separator marks. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('safeText', () => {
  it('item 7: shows ESC, CR, BEL, OSC 52 and C1 CSI as escapes', () => {
    expect(safeText('echo \x1b]52;c;ZXZpbA==\x07')).toBe('echo \\x1b]52;c;ZXZpbA==\\x07');
    expect(safeText('rm -rf /\rls')).toBe('rm -rf /\\rls');
    expect(safeText('\x1b[2J\u009b31m')).toBe('\\x1b[2J\\u009b31m');
    expect(safeText('a\nb\tc\x7f')).toBe('a\\nb\\tc\\x7f');
    expect(safeText('evil\u202e}ecilA{')).toBe('evil\\u202e}ecilA{');
    expect(safeText('line\u2028sep')).toBe('line\\u2028sep');
  });

  it('keeps ordinary text, unicode included, as it is', () => {
    expect(safeText('kubectl get pods -n café → ok ✓')).toBe('kubectl get pods -n café → ok ✓');
    expect(safeText(42)).toBe('42');
  });

  it('never leaves a raw control character (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => !RAW_CONTROL.test(safeText(s)) && !/[\n\t]/.test(safeText(s))));
  });
});

describe('safeLines', () => {
  it('keeps newlines and tabs, and shows the rest', () => {
    expect(safeLines('a\n\tb\r\x1b[31m')).toBe('a\n\tb\\r\\x1b[31m');
  });
});

describe('safeJson', () => {
  it('writes C1, DEL and U+2028/9 as \\u escapes that parse back to the same data', () => {
    const value = { command: ['echo', '\u009b31m\x1b]0;x\x07\u2028\x7f\r'], n: 1 };
    const out = safeJson(value);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).toContain('\\u009b');
    expect(JSON.parse(out)).toEqual(value);
  });

  it('leaves the data of any JSON exactly as it was (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const line = safeJsonText(JSON.stringify(v));
        return !RAW_CONTROL.test(line) && JSON.stringify(JSON.parse(line)) === JSON.stringify(v);
      }),
    );
  });
});

describe('formatTable', () => {
  it('item 7: escapes every cell and aligns on what is shown', () => {
    const out = formatTable(['USER', 'COMMAND'], [['al\x1bice', 'sh -c \x1b]52;c;ZXZpbA==\x07'], ['bob', 'ls']]);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out.split('\n')).toEqual(['USER       COMMAND', 'al\\x1bice  sh -c \\x1b]52;c;ZXZpbA==\\x07', 'bob        ls', '']);
  });

  it('a cell cannot start a new row', () => {
    expect(formatTable(['A', 'B'], [['x\nFAKE', 'y\r\nROW']]).split('\n')).toHaveLength(3);
  });
});

describe('formatCliError', () => {
  it('item 7: shows control characters in a message and hint from the server', () => {
    const out = formatCliError(new CliError('denied\x1b]52;c;ZXZpbA==\x07', 'try\r\x1b[2Kagain'), false);
    expect(out).toBe('error: denied\\x1b]52;c;ZXZpbA==\\x07\nhint: try\\r\\x1b[2Kagain\n');
    expect(formatCliError(new Error('boom\u009b'), true)).not.toMatch(RAW_CONTROL);
  });
});
