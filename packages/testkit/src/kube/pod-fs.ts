// A pod's filesystem, in memory: what `kubectl cp` writes with `tar x` and reads with `tar c`,
// and what `cat`, `ls` and `test` look at. Paths are absolute POSIX paths; `/`, `/tmp` and
// `/root` exist from the start. Each pod (not each container) has one.
import { posix } from 'node:path';

export interface FsEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtime: Date;
  data?: Buffer;
  linkname?: string;
}

export interface PodFs {
  stat(path: string): FsEntry | undefined;
  readFile(path: string): Buffer | undefined;
  writeFile(path: string, data: Buffer, mode?: number, mtime?: Date): boolean;
  symlink(path: string, target: string, mtime?: Date): boolean;
  mkdir(path: string, opts?: { parents?: boolean; mode?: number; mtime?: Date }): boolean;
  /** Direct children's names, sorted. */
  list(dir: string): string[];
  /** Entry paths under and including `path`, parents before children. */
  walk(path: string): string[];
}

export function resolvePath(path: string, cwd = '/'): string {
  return posix.resolve(cwd, path);
}

/** The same filesystem, with relative paths taken from `cwd` (a shell's working directory). */
export function fsAt(fs: PodFs, cwd: string): PodFs {
  const at = (path: string) => resolvePath(path, cwd);
  return {
    stat: (path) => fs.stat(at(path)),
    readFile: (path) => fs.readFile(at(path)),
    writeFile: (path, data, mode, mtime) => fs.writeFile(at(path), data, mode, mtime),
    symlink: (path, target, mtime) => fs.symlink(at(path), target, mtime),
    mkdir: (path, opts) => fs.mkdir(at(path), opts),
    list: (path) => fs.list(at(path)),
    walk: (path) => fs.walk(at(path)),
  };
}

export function createPodFs(now: () => Date = () => new Date()): PodFs {
  const entries = new Map<string, FsEntry>();
  const dir = (mode = 0o755, mtime = now()): FsEntry => ({ type: 'dir', mode, mtime });
  for (const p of ['/', '/tmp', '/root']) entries.set(p, dir(p === '/tmp' ? 0o1777 : 0o755));

  const parentIsDir = (p: string) => entries.get(posix.dirname(p))?.type === 'dir';

  const fs: PodFs = {
    stat: (path) => entries.get(resolvePath(path)),

    readFile(path) {
      const e = entries.get(resolvePath(path));
      return e?.type === 'file' ? e.data : undefined;
    },

    writeFile(path, data, mode = 0o644, mtime = now()) {
      const p = resolvePath(path);
      if (!parentIsDir(p) || entries.get(p)?.type === 'dir') return false;
      entries.set(p, { type: 'file', mode, mtime, data });
      return true;
    },

    symlink(path, target, mtime = now()) {
      const p = resolvePath(path);
      if (!parentIsDir(p)) return false;
      entries.set(p, { type: 'symlink', mode: 0o777, mtime, linkname: target });
      return true;
    },

    mkdir(path, opts = {}) {
      const p = resolvePath(path);
      const existing = entries.get(p);
      if (existing) return existing.type === 'dir' && (opts.parents ?? false);
      if (!parentIsDir(p)) {
        if (!opts.parents || !fs.mkdir(posix.dirname(p), { parents: true })) return false;
      }
      entries.set(p, dir(opts.mode, opts.mtime));
      return true;
    },

    list(path) {
      const p = resolvePath(path);
      return [...entries.keys()]
        .filter((k) => k !== p && posix.dirname(k) === p)
        .map((k) => posix.basename(k))
        .sort();
    },

    walk(path) {
      const p = resolvePath(path);
      const e = entries.get(p);
      if (!e) return [];
      if (e.type !== 'dir') return [p];
      return [p, ...fs.list(p).flatMap((child) => fs.walk(posix.join(p, child)))];
    },
  };
  return fs;
}
