// JSON string escaping straight from bytes, for turning a recording's
// events into asciicast lines (recording-events.ts): a chunk of ASCII
// decodes to one character per byte, so its JSON form can be written from
// the bytes without making a string first.
// The output is byte for byte what JSON.stringify gives for the same text
// (without the quotes). Runs of one control byte, the shape of binary
// output such as NULs, become one fill of their escape.

/** Escapes of the bytes JSON.stringify escapes in ASCII: controls, `"` and `\`. */
const ESCAPES: (Buffer | undefined)[] = [];
/** 1 where a byte is written as it is. */
const PLAIN = new Uint8Array(128);
for (let b = 0; b < 128; b++) {
  const json = JSON.stringify(String.fromCharCode(b)).slice(1, -1);
  if (json.length === 1) PLAIN[b] = 1;
  else ESCAPES[b] = Buffer.from(json, 'latin1');
}

/** The most bytes escapeAsciiJson writes for `src` (every byte a `\u00XX`). */
export function maxEscapedLength(src: Buffer): number {
  return 6 * src.length;
}

/** Writes the JSON string body of ASCII `src` into `out` at `at`; returns where it ends. */
export function escapeAsciiJson(src: Buffer, out: Buffer, at: number): number {
  let o = at;
  let i = 0;
  const n = src.length;
  while (i < n) {
    let j = i;
    while (j < n && PLAIN[src[j]!] === 1) j++;
    if (j > i) o += src.copy(out, o, i, j);
    if (j === n) break;
    const b = src[j]!;
    let k = j + 1;
    while (k < n && src[k] === b) k++;
    const escape = ESCAPES[b];
    if (!escape) throw new RangeError(`escapeAsciiJson: byte ${b} at ${j} is not ASCII`);
    const end = o + escape.length * (k - j);
    if (k - j === 1) escape.copy(out, o);
    else out.fill(escape, o, end);
    o = end;
    i = k;
  }
  return o;
}

/**
 * Whether a streaming UTF-8 decoder that was just given `chunk` may hold
 * the first bytes of a character cut by its end. May say yes when it does
 * not (a short chunk that does not end in ASCII); never says no when it does.
 */
export function endsInsideUtf8Sequence(chunk: Buffer): boolean {
  const n = chunk.length;
  if (n === 0) return true;
  if (chunk[n - 1]! < 0x80) return false;
  // A cut character is a lead byte and at most two continuation bytes.
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = chunk[n - back]!;
    if ((b & 0xc0) === 0x80) continue;
    if (b < 0xc0) return false;
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return length > back;
  }
  // Three continuation bytes: a whole four-byte character, or stray bytes already replaced,
  // unless the chunk is too short to tell.
  return n < 4;
}
