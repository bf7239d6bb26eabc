// What ztsh prints that came from a request or the server (user names,
// commands, labels, messages, hashes) goes through here first. Any of them
// can carry ESC, CSI or OSC sequences (OSC 52 writes the clipboard, OSC 0
// the window title), a carriage return that hides the text before it, C1
// controls that some terminals obey as 8-bit ESC, or bidi overrides that
// reorder what an auditor reads. They are printed as visible escapes (\x1b,
// \r, \u009b), never raw.

/** C0, DEL, C1, line/paragraph separators and bidi embedding, override and isolate marks. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_KEEPING_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function visibleEscape(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line of output: every control character shown as an escape, newlines and tabs included. */
export function safeText(value: unknown): string {
  return String(value).replace(UNSAFE, visibleEscape);
}

/** Text meant to span lines: newlines and tabs kept, every other control shown as an escape. */
export function safeLines(value: unknown): string {
  return String(value).replace(UNSAFE_KEEPING_LINES, visibleEscape);
}

/** Characters JSON.stringify leaves raw that a terminal may act on. */
const JSON_UNSAFE = /[\u0000-\u0008\u000b\u000c\u000d\u000e-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text made safe for a terminal without changing its data: the raw
 * characters left are written as \u escapes, which parse to the same strings.
 * (Raw control characters can only stand inside strings in valid JSON; tabs
 * and newlines, the whitespace JSON.stringify may put between values, stay.)
 */
export function safeJsonText(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What --format json prints. */
export function safeJson(value: unknown): string {
  return safeJsonText(JSON.stringify(value, null, 2)) + '\n';
}
