// Session recordings are asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
// a JSON header line, then one JSON array per event: [seconds, code, data]
// with code "o" (output), "i" (input) or "r" (resize, "COLSxROWS").

export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp: number;
  title?: string;
  command?: string;
  env?: Record<string, string>;
  /** Session metadata; players ignore keys they do not know. */
  ztsh?: Record<string, unknown>;
}

/** Terminal output as words: escape sequences and control characters removed. */
export function plainText(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '') // OSC
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

export interface ParsedCast {
  header: AsciicastHeader;
  events: [number, string, string][];
}

/** Reads a recording; a last line cut short by a crash is skipped. */
export function parseAsciicast(text: string): ParsedCast {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error('empty recording');
  const header = JSON.parse(lines[0]!) as AsciicastHeader;
  if (header.version !== 2) throw new Error(`not asciicast v2 (version ${String(header.version)})`);
  const events: [number, string, string][] = [];
  for (const [i, line] of lines.slice(1).entries()) {
    try {
      const e = JSON.parse(line) as unknown;
      if (Array.isArray(e) && typeof e[0] === 'number' && typeof e[1] === 'string' && typeof e[2] === 'string') events.push(e as [number, string, string]);
    } catch (error) {
      if (i === lines.length - 2) break; // the last line, half written when the proxy died
      throw error;
    }
  }
  return { header, events };
}

/**
 * What an unfinished recording tells of its session (one a crash cut short):
 * how long after the start its last event came, and what was typed and
 * shown, as words for the search index.
 */
export function castSummary(text: string): { lastEventMs: number | null; input: string; output: string } {
  const { events } = parseAsciicast(text);
  let input = '';
  let output = '';
  for (const [, code, data] of events) {
    if (code === 'i') input += data;
    else if (code === 'o') output += data;
  }
  const last = events[events.length - 1];
  return { lastEventMs: last ? Math.round(last[0] * 1000) : null, input: plainText(input), output: plainText(output) };
}
