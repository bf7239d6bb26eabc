// The two tar invocations `kubectl cp` runs in the pod, on the in-memory filesystem, through
// tar-stream:  copying out: `tar cf - /src/path`;  copying in: `tar -xmf - -C /dest/dir`
// (optionally with --no-same-permissions --no-same-owner). Like GNU tar, member names lose
// their leading "/" (kubectl strips the same prefix when it unpacks).
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import type { ProcessIo } from './process-io.ts';

interface TarArgs {
  mode: 'create' | 'extract' | 'list';
  file?: string;
  dir: string;
  paths: string[];
}

function parseArgs(args: string[]): TarArgs | string {
  const out: TarArgs = { mode: 'list', dir: '/', paths: [] };
  let mode: TarArgs['mode'] | undefined;
  const rest = [...args];
  let first = true;
  while (rest.length > 0) {
    const arg = rest.shift() ?? '';
    if (arg.startsWith('--')) continue; // --no-same-owner, --no-same-permissions, ...
    if (arg === '-C') {
      out.dir = rest.shift() ?? '/';
    } else if (arg.startsWith('-') || (first && /^[cxtvfmzp]+$/.test(arg))) {
      const letters = arg.replace(/^-/, '');
      for (const l of letters) {
        if (l === 'c') mode = 'create';
        else if (l === 'x') mode = 'extract';
        else if (l === 't') mode = 'list';
        else if (l === 'f') out.file = rest.shift();
        else if (!'vmpo'.includes(l)) return `tar: unsupported option -- '${l}'`;
      }
    } else {
      out.paths.push(arg);
    }
    first = false;
  }
  if (!mode) return "tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options";
  if (out.file !== '-') return 'tar: this double reads and writes archives on stdin/stdout only (f -)';
  out.mode = mode;
  return out;
}

export async function tar(io: ProcessIo): Promise<number> {
  const args = parseArgs(io.args.slice(1));
  if (typeof args === 'string') {
    io.stderr(`${args}\n`);
    return 2;
  }
  if (args.mode === 'create') return create(io, args);
  if (args.mode === 'extract') return extract(io, args);
  io.stderr('tar: listing is not supported by this double\n');
  return 2;
}

async function create(io: ProcessIo, args: TarArgs): Promise<number> {
  const pack = tarStream.pack();
  const done = (async () => {
    for await (const chunk of pack) io.stdout(chunk as Buffer);
  })();
  let failed = false;
  for (const path of args.paths) {
    const full = posix.resolve(args.dir, path);
    const all = io.fs.walk(full);
    if (all.length === 0) {
      io.stderr(`tar: ${path}: Cannot stat: No such file or directory\n`);
      failed = true;
      continue;
    }
    for (const p of all) {
      const e = io.fs.stat(p);
      if (!e) continue;
      // The member name is the path as given, relative, like GNU tar prints it.
      const name = posix.join(path, posix.relative(full, p)).replace(/^\/+/, '') || '.';
      const header = { name, mode: e.mode, mtime: e.mtime, uname: 'root', gname: 'root', uid: 0, gid: 0 };
      if (e.type === 'dir') pack.entry({ ...header, type: 'directory' });
      else if (e.type === 'symlink') pack.entry({ ...header, type: 'symlink', linkname: e.linkname ?? '' });
      else pack.entry({ ...header, type: 'file', size: e.data?.length ?? 0 }, e.data ?? Buffer.alloc(0));
    }
  }
  pack.finalize();
  await done;
  if (failed) io.stderr('tar: Exiting with failure status due to previous errors\n');
  return failed ? 2 : 0;
}

async function extract(io: ProcessIo, args: TarArgs): Promise<number> {
  if (io.fs.stat(args.dir)?.type !== 'dir') {
    io.stderr(`tar: ${args.dir}: Cannot open: No such file or directory\n`);
    io.stdin.resume(); // drain what the client still sends
    return 2;
  }
  const ex = tarStream.extract();
  let failed = false;
  const consume = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const target = posix.resolve(args.dir, h.name);
      const mtime = h.mtime ?? new Date();
      let ok: boolean;
      if (h.type === 'directory') ok = io.fs.mkdir(target, { parents: true, mode: h.mode ?? 0o755, mtime });
      else if (h.type === 'symlink') ok = io.fs.symlink(target, h.linkname ?? '', mtime);
      else if (h.type === 'file' || h.type === 'contiguous-file') {
        io.fs.mkdir(posix.dirname(target), { parents: true });
        ok = io.fs.writeFile(target, Buffer.concat(chunks), h.mode ?? 0o644, mtime);
      } else ok = true; // devices, fifos, hard links: skipped
      if (!ok) {
        io.stderr(`tar: ${h.name}: Cannot open: No such file or directory\n`);
        failed = true;
      }
    }
  })();
  try {
    await Promise.all([pipeline(io.stdin, ex), consume]);
  } catch (err) {
    io.stderr(`tar: ${(err as Error).message}\n`);
    return 2;
  }
  return failed ? 2 : 0;
}
