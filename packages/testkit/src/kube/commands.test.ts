import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCommand } from './commands.ts';
import { createPodFs, type PodFs } from './pod-fs.ts';
import type { ProcessIo } from './process-io.ts';

async function run(args: string[], opts: { fs?: PodFs; stdin?: string; hostname?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const io: ProcessIo = {
    args,
    tty: false,
    stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
    stdout: (c) => void (stdout += c.toString()),
    stderr: (c) => void (stderr += c.toString()),
    drain: () => Promise.resolve(),
    fs: opts.fs ?? createPodFs(),
    signal: new AbortController().signal,
    ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
  };
  const code = await runCommand(io);
  return { code, stdout, stderr };
}

const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;

describe('uname', () => {
  it('prints the kernel name alone, each field asked for in coreutils order, and all of them for -a', async () => {
    expect(await run(['uname'])).toEqual({ code: 0, stdout: 'Linux\n', stderr: '' });
    expect((await run(['uname', '-n'], { hostname: 'web-1' })).stdout).toBe('web-1\n');
    expect((await run(['uname', '-mr'])).stdout).toBe(`6.6.0-kube-double ${arch}\n`);
    expect((await run(['uname', '-m', '-s'])).stdout).toBe(`Linux ${arch}\n`);
    expect((await run(['uname', '-a'], { hostname: 'web-1' })).stdout).toBe(`Linux web-1 6.6.0-kube-double #1 SMP PREEMPT_DYNAMIC ${arch} GNU/Linux\n`);
    expect((await run(['uname', '--all'], { hostname: 'web-1' })).stdout).toBe((await run(['uname', '-a'], { hostname: 'web-1' })).stdout);
  });

  it('refuses an unknown option or an operand, as coreutils does', async () => {
    expect(await run(['uname', '-x'])).toEqual({ code: 1, stdout: '', stderr: "uname: invalid option -- 'x'\n" });
    expect(await run(['uname', 'now'])).toEqual({ code: 1, stdout: '', stderr: "uname: extra operand 'now'\n" });
  });
});

describe('the shell: pwd, cd and relative paths', () => {
  it('starts in /, cd moves, pwd shows it, and relative paths follow it', async () => {
    const fs = createPodFs();
    fs.writeFile('/tmp/note.txt', Buffer.from('in tmp\n'));
    const r = await run(['sh', '-c', 'pwd; cd /tmp && pwd; cat note.txt; ls; cd ..; pwd; cd; pwd; mkdir sub; test -d /root/sub'], { fs });
    expect(r).toEqual({ code: 0, stdout: '/\n/tmp\nin tmp\nnote.txt\n/\n/root\n', stderr: '' });
  });

  it('cd to a missing directory fails with exit 2 and stays where it was', async () => {
    const r = await run(['sh', '-c', 'cd /nope; pwd'], {});
    expect(r.stdout).toBe('/\n');
    expect(r.stderr).toBe("sh: cd: can't cd to /nope: No such file or directory\n");
    expect((await run(['sh', '-c', 'cd /nope'])).code).toBe(2);
  });

  it('hostname is the pod name', async () => {
    expect((await run(['hostname'], { hostname: 'api-1' })).stdout).toBe('api-1\n');
  });
});
