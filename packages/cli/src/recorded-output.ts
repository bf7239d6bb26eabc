// A recording's terminal output is escape sequences by nature, and whoever
// was recorded chose them: an OSC 52 in it would write the auditor's
// clipboard, a device-status query would make the auditor's terminal type an
// answer. So recorded output is never written raw:
//   - `play --format text` shows it as text: cursor and colour sequences (CSI)
//     are dropped, every other sequence and control character is made
//     visible (\x1b]52;c;...\x07), so the auditor sees what was attempted.
//   - `play` replays the screen: CSI and plain ESC sequences pass (they only
//     draw), but string sequences (OSC, DCS, APC, PM, SOS), sequences that
//     make the terminal answer, and C1 controls are dropped.
import { visibleEscape } from './terminal-safe.ts';

type Token =
  | { kind: 'text'; s: string }
  | { kind: 'csi'; s: string; intermediates: string; final: string }
  | { kind: 'string'; s: string }
  | { kind: 'esc'; s: string }
  | { kind: 'control'; s: string };

/** A string sequence longer than this without its terminator is not waited for. */
const MAX_PENDING = 64 * 1024;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * Splits terminal output into tokens. Returns the tokens and the tail that
 * may be the start of a sequence continued in the next chunk.
 */
function tokenize(input: string, final: boolean): { tokens: Token[]; rest: string } {
  const tokens: Token[] = [];
  let i = 0;
  let text = '';
  const flush = () => {
    if (text) tokens.push({ kind: 'text', s: text });
    text = '';
  };
  while (i < input.length) {
    const c = input[i]!;
    if (!CONTROL.test(c)) {
      text += c;
      i++;
      continue;
    }
    flush();
    if (c !== '\x1b') {
      tokens.push({ kind: 'control', s: c });
      i++;
      continue;
    }
    const seq = escapeSequence(input, i);
    if (seq === 'incomplete') {
      if (!final && input.length - i <= MAX_PENDING) return { tokens, rest: input.slice(i) };
      tokens.push({ kind: 'control', s: c });
      i++;
      continue;
    }
    tokens.push(seq ?? { kind: 'control', s: c });
    i += seq ? seq.s.length : 1;
  }
  flush();
  return { tokens, rest: '' };
}

/** The escape sequence starting at `at` (an ESC); null when malformed, 'incomplete' when cut short. */
function escapeSequence(input: string, at: number): Token | null | 'incomplete' {
  const next = input[at + 1];
  if (next === undefined) return 'incomplete';
  if (next === '[') {
    let j = at + 2;
    while (j < input.length && input[j]! >= '0' && input[j]! <= '?') j++;
    const paramsEnd = j;
    while (j < input.length && input[j]! >= ' ' && input[j]! <= '/') j++;
    if (j >= input.length) return 'incomplete';
    const f = input[j]!;
    if (f < '@' || f > '~') return null;
    return { kind: 'csi', s: input.slice(at, j + 1), intermediates: input.slice(paramsEnd, j), final: f };
  }
  if (next === ']' || next === 'P' || next === '_' || next === '^' || next === 'X') {
    for (let j = at + 2; j < input.length; j++) {
      const c = input[j]!;
      if (c === '\x07' || c === '\u009c') return { kind: 'string', s: input.slice(at, j + 1) };
      if (c === '\x1b') {
        if (j + 1 >= input.length) return 'incomplete';
        if (input[j + 1] === '\\') return { kind: 'string', s: input.slice(at, j + 2) };
        return null; // an ESC inside: the sequence was never ended
      }
    }
    return 'incomplete';
  }
  let j = at + 1;
  while (j < input.length && input[j]! >= ' ' && input[j]! <= '/') j++;
  if (j >= input.length) return 'incomplete';
  const f = input[j]!;
  if (f < '0' || f > '~') return null;
  return { kind: 'esc', s: input.slice(at, j + 1) };
}

const visible = (s: string) => s.replace(new RegExp(CONTROL.source, 'g'), visibleEscape);

/** Recorded output as readable text: colours and cursor moves dropped, everything else that acts on a terminal shown. */
export function recordedText(output: string): string {
  const { tokens } = tokenize(output.replace(/\r+\n/g, '\n'), true);
  return tokens
    .map((t) => {
      if (t.kind === 'text') return t.s;
      if (t.kind === 'csi') return '';
      if (t.kind === 'control' && (t.s === '\n' || t.s === '\t')) return t.s;
      return visible(t.s);
    })
    .join('');
}

/** CSI finals of sequences that make the terminal answer on its input: DA, DSR, window reports, DECRQM, DECREQTPARM. */
const ANSWERING = new Set(['c', 'n', 't', 'x']);
/** C0 controls a replay needs: backspace, tab, newline, carriage return. The rest (BEL, SO/SI charset shifts, ...) is dropped. */
const REPLAYED_CONTROLS = new Set(['\b', '\t', '\n', '\r']);

/** Filters recorded output for `play`, chunk by chunk: a sequence split across chunks is held until it is whole. */
export class ReplayFilter {
  #pending = '';
  #coloured = false;
  #charset = false;

  push(chunk: string): string {
    const { tokens, rest } = tokenize(this.#pending + chunk, false);
    this.#pending = rest;
    return this.#render(tokens);
  }

  /** What is still held at the end, made safe; then colours and the character set are put back if the replay changed them. */
  end(): string {
    const { tokens } = tokenize(this.#pending, true);
    this.#pending = '';
    return this.#render(tokens) + (this.#charset ? '\x1b(B' : '') + (this.#coloured ? '\x1b[0m' : '');
  }

  #render(tokens: Token[]): string {
    return tokens
      .map((t) => {
        const out = replayed(t);
        if (out && t.kind === 'csi' && t.final === 'm') this.#coloured = true;
        if (out && t.kind === 'esc' && /^\x1b[()*+]/.test(t.s)) this.#charset = true;
        return out;
      })
      .join('');
  }
}

function replayed(t: Token): string {
  switch (t.kind) {
    case 'text':
      return t.s;
    case 'esc':
      return t.s === '\x1bZ' ? '' : t.s; // DECID: the terminal would answer with its identity
    case 'csi':
      return ANSWERING.has(t.final) || (t.final === 'p' && t.intermediates.includes('$')) ? '' : t.s;
    case 'control':
      return REPLAYED_CONTROLS.has(t.s) ? t.s : '';
    case 'string':
      return '';
  }
}
