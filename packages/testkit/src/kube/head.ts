// `head -c N [FILE]` and `head [-n N] [FILE]`: the first N bytes or lines of a file of the pod,
// of stdin, or of /dev/zero — `head -c 256M /dev/zero` is how a test makes a pod print a lot of
// output fast. Sizes take GNU's suffixes (K, M, G: powers of 1024; KB, MB, GB: of 1000). The
// output waits for the client to keep up (io.drain), as a process writing to a pipe would.
import type { ProcessIo } from './process-io.ts';

const CHUNK = 32 * 1024;
const ZEROS = Buffer.alloc(CHUNK);
const SUFFIXES: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 };

interface HeadArgs {
  unit: 'bytes' | 'lines';
  count: number;
  file?: string | undefined;
}

function parseCount(text: string | undefined): number | undefined {
  const m = /^(\d+)([KMG]B?)?$/.exec(text ?? '');
  if (!m) return undefined;
  return Number(m[1]) * (SUFFIXES[m[2] ?? ''] ?? 1);
}

function parseArgs(args: string[]): HeadArgs | string {
  const out: HeadArgs = { unit: 'lines', count: 10 };
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const flag = /^-([cn])(.*)$/.exec(arg);
    if (flag) {
      const value = flag[2] || args[++i];
      const count = parseCount(value);
      if (count === undefined) return `head: invalid number of ${flag[1] === 'c' ? 'bytes' : 'lines'}: '${value ?? ''}'`;
      out.unit = flag[1] === 'c' ? 'bytes' : 'lines';
      out.count = count;
    } else if (arg.startsWith('-') && arg !== '-') {
      return `head: unsupported option '${arg}'`;
    } else files.push(arg);
  }
  if (files.length > 1) return 'head: this double reads one file at a time';
  out.file = files[0];
  return out;
}

async function* zeros(): AsyncGenerator<Buffer> {
  for (;;) yield ZEROS;
}

export async function head(io: ProcessIo): Promise<number> {
  const args = parseArgs(io.args.slice(1));
  if (typeof args === 'string') {
    io.stderr(`${args}\n`);
    return 1;
  }
  let source: AsyncIterable<Buffer> | Iterable<Buffer>;
  if (args.file === undefined || args.file === '-') source = io.stdin as AsyncIterable<Buffer>;
  else if (args.file === '/dev/zero') source = zeros();
  else {
    const data = io.fs.readFile(args.file);
    if (!data) {
      io.stderr(`head: cannot open '${args.file}' for reading: No such file or directory\n`);
      return 1;
    }
    source = [data];
  }
  let left = args.count;
  if (left === 0) return 0;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; at += CHUNK) {
      if (io.signal.aborted) return 141; // the reader went away: SIGPIPE
      const piece = chunk.subarray(at, at + CHUNK);
      const end = args.unit === 'bytes' ? Math.min(piece.length, left) : lineEnd(piece, left);
      left -= args.unit === 'bytes' ? end : countLines(piece.subarray(0, end));
      io.stdout(piece.subarray(0, end));
      if (left === 0) return 0;
      await io.drain();
    }
  }
  return 0;
}

/** Length of the prefix of `buf` that holds at most `lines` newlines (through the last one). */
function lineEnd(buf: Buffer, lines: number): number {
  let at = -1;
  for (let n = 0; n < lines; n++) {
    at = buf.indexOf(0x0a, at + 1);
    if (at < 0) return buf.length;
  }
  return at + 1;
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let at = buf.indexOf(0x0a); at >= 0; at = buf.indexOf(0x0a, at + 1)) n++;
  return n;
}
