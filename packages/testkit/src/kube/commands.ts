// The few programs a pod of the double can run through exec: echo, cat, head (with /dev/zero,
// for output in bulk), true, false, test, ls, mkdir, pwd, uname, hostname, sleep, tar (for
// kubectl cp), and sh — `sh -c 'cmd; exit N'` or an interactive line-reading shell for
// `exec -it … sh`, with `cd` and `exit` built in. Anything else exits 127 like a missing binary.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { head } from './head.ts';
import { fsAt, resolvePath } from './pod-fs.ts';
import type { Command, ProcessIo } from './process-io.ts';
import { tar } from './tar.ts';

const COMMANDS: Record<string, Command> = {
  echo: async (io) => {
    const noNewline = io.args[1] === '-n';
    io.stdout(io.args.slice(noNewline ? 2 : 1).join(' ') + (noNewline ? '' : '\n'));
    return 0;
  },
  cat: async (io) => {
    const files = io.args.slice(1);
    if (files.length === 0) {
      for await (const chunk of io.stdin) io.stdout(chunk as Buffer);
      return 0;
    }
    let code = 0;
    for (const f of files) {
      const data = io.fs.readFile(f);
      if (data) io.stdout(data);
      else {
        io.stderr(`cat: ${f}: No such file or directory\n`);
        code = 1;
      }
    }
    return code;
  },
  head,
  true: async () => 0,
  false: async () => 1,
  test: async (io) => testCommand(io.args.slice(1), io),
  '[': async (io) => testCommand(io.args.slice(1, io.args.at(-1) === ']' ? -1 : undefined), io),
  ls: async (io) => {
    const paths = io.args.slice(1).filter((a) => !a.startsWith('-'));
    let code = 0;
    for (const p of paths.length ? paths : ['.']) {
      const e = io.fs.stat(p);
      if (!e) {
        io.stderr(`ls: cannot access '${p}': No such file or directory\n`);
        code = 2;
      } else io.stdout(e.type === 'dir' ? io.fs.list(p).map((n) => `${n}\n`).join('') : `${p}\n`);
    }
    return code;
  },
  mkdir: async (io) => {
    const parents = io.args.includes('-p');
    let code = 0;
    for (const p of io.args.slice(1).filter((a) => !a.startsWith('-'))) {
      if (!io.fs.mkdir(p, { parents })) {
        io.stderr(`mkdir: cannot create directory '${p}'\n`);
        code = 1;
      }
    }
    return code;
  },
  pwd: async (io) => {
    io.stdout(`${io.cwd ?? '/'}\n`);
    return 0;
  },
  uname,
  hostname: async (io) => {
    io.stdout(`${io.hostname ?? 'localhost'}\n`);
    return 0;
  },
  sleep: (io) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(0), Number(io.args[1] ?? 0) * 1000);
      io.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve(137);
      });
    }),
  tar,
  sh: (io) => shell(io),
  bash: (io) => shell(io),
};

export async function runCommand(io: ProcessIo): Promise<number> {
  const name = (io.args[0] ?? '').split('/').pop() ?? '';
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`exec: "${io.args[0] ?? ''}": executable file not found in $PATH\n`);
    return 127;
  }
  return command(io);
}

function testCommand(args: string[], io: ProcessIo): number {
  const [op, path] = args;
  if (path === undefined) return op ? 0 : 1;
  const e = io.fs.stat(path);
  switch (op) {
    case '-d':
      return e?.type === 'dir' ? 0 : 1;
    case '-f':
      return e?.type === 'file' ? 0 : 1;
    case '-e':
      return e ? 0 : 1;
    default:
      io.stderr(`test: unsupported expression ${args.join(' ')}\n`);
      return 2;
  }
}

/** Splits a command line on spaces, honouring '…' and "…" quoting and backslashes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** uname as coreutils prints it: -s -n -r -v -m -o, -a for all; the kernel is the double's. */
async function uname(io: ProcessIo): Promise<number> {
  const fields: Record<string, string> = {
    s: 'Linux',
    n: io.hostname ?? 'localhost',
    r: '6.6.0-kube-double',
    v: '#1 SMP PREEMPT_DYNAMIC',
    m: process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : process.arch,
    o: 'GNU/Linux',
  };
  const wanted = new Set<string>();
  for (const arg of io.args.slice(1)) {
    const letters = arg === '--all' ? ['a'] : arg.startsWith('-') && arg.length > 1 && !arg.startsWith('--') ? [...arg.slice(1)] : undefined;
    if (letters === undefined) {
      io.stderr(`uname: extra operand '${arg}'\n`);
      return 1;
    }
    const bad = letters.find((l) => l !== 'a' && !(l in fields));
    if (bad !== undefined) {
      io.stderr(`uname: invalid option -- '${bad}'\n`);
      return 1;
    }
    for (const l of letters) wanted.add(l);
  }
  if (wanted.has('a')) for (const l of Object.keys(fields)) wanted.add(l);
  if (wanted.size === 0) wanted.add('s');
  io.stdout(`${Object.keys(fields).filter((l) => wanted.has(l)).map((l) => fields[l]).join(' ')}\n`);
  return 0;
}

interface ScriptResult {
  code: number;
  exited: boolean;
  /** The working directory after the script (`cd` changes it). */
  cwd: string;
}

/** `cd DIR` (default /root, root's home): a builtin, as it must change the shell's own directory. */
function changeDir(words: string[], io: ProcessIo, cwd: string): { code: number; cwd: string } {
  const target = resolvePath(words[1] ?? '/root', cwd);
  if (io.fs.stat(target)?.type === 'dir') return { code: 0, cwd: target };
  io.stderr(`sh: cd: can't cd to ${words[1] ?? '/root'}: No such file or directory\n`);
  return { code: 2, cwd };
}

/** Runs `a; b && c` lines; `exit N` ends the shell. No pipes, redirections or variables. */
async function runScript(script: string, io: ProcessIo, lastCode: number, startCwd: string): Promise<ScriptResult> {
  let code = lastCode;
  let cwd = startCwd;
  for (const statement of script.split(';')) {
    const parts = statement.split('&&');
    for (const [i, part] of parts.entries()) {
      if (i > 0 && code !== 0) break;
      const words = splitWords(part);
      if (words.length === 0) continue;
      if (words[0] === 'exit') return { code: words[1] === undefined ? code : Number(words[1]) & 0xff, exited: true, cwd };
      if (words[0] === 'cd') {
        ({ code, cwd } = changeDir(words, io, cwd));
        continue;
      }
      code = await runCommand({ ...io, args: words, stdin: i === 0 ? io.stdin : Readable.from([]), cwd, fs: fsAt(io.fs, cwd) });
    }
  }
  return { code, exited: false, cwd };
}

async function shell(io: ProcessIo): Promise<number> {
  const c = io.args.indexOf('-c');
  if (c >= 0) return (await runScript(io.args[c + 1] ?? '', io, 0, io.cwd ?? '/')).code;
  return interactive(io);
}

/** `sh` reading commands from stdin; with a TTY it echoes what is typed and shows a prompt. */
async function interactive(io: ProcessIo): Promise<number> {
  // busybox's prompt: the directory, then #.
  const prompt = (cwd: string) => io.tty && io.stdout(`${cwd} # `);
  const lines = createInterface({ input: io.tty ? echoing(io) : io.stdin, crlfDelay: Infinity, terminal: false });
  let code = 0;
  let cwd = io.cwd ?? '/';
  prompt(cwd);
  for await (const line of lines) {
    const r = await runScript(line, { ...io, stdin: Readable.from([]) }, code, cwd);
    code = r.code;
    cwd = r.cwd;
    if (r.exited) {
      lines.close();
      return code;
    }
    prompt(cwd);
  }
  return code;
}

/** A TTY's line discipline, roughly: echo input, turn CR into LF, honour backspace and ^D (exec.ts adds the CR to each LF written). */
function echoing(io: ProcessIo): Readable {
  const out = new Readable({ read() {} });
  let line = '';
  io.stdin.on('data', (chunk: Buffer) => {
    for (const ch of chunk.toString('utf8')) {
      if (ch === '\r' || ch === '\n') {
        io.stdout('\n');
        out.push(`${line}\n`);
        line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (line.length > 0) {
          line = line.slice(0, -1);
          io.stdout('\b \b');
        }
      } else if (ch === '\x04') {
        if (line === '') out.push(null);
      } else if (ch === '\x03') {
        io.stdout('^C\n');
        line = '';
      } else {
        line += ch;
        io.stdout(ch);
      }
    }
  });
  io.stdin.on('end', () => out.push(null));
  return out;
}
