// head on its own, with a stand-in for the exec session: what it prints, and that it waits
// for drain before writing more.
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { head } from './head.ts';
import { createPodFs } from './pod-fs.ts';
import type { ProcessIo } from './process-io.ts';

interface Ran {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function fakeIo(args: string[], opts: { stdin?: Readable; drain?: () => Promise<void>; signal?: AbortSignal } = {}) {
  const out: Buffer[] = [];
  let err = '';
  const fs = createPodFs();
  fs.writeFile('/tmp/lines.txt', Buffer.from('one\ntwo\nthree\nfour\n'));
  const io: ProcessIo = {
    args: ['head', ...args],
    tty: false,
    stdin: opts.stdin ?? Readable.from([]),
    stdout: (c) => void out.push(Buffer.from(c)),
    stderr: (c) => void (err += c.toString()),
    drain: opts.drain ?? (() => Promise.resolve()),
    fs,
    signal: opts.signal ?? new AbortController().signal,
  };
  return { io, written: () => Buffer.concat(out), run: async (): Promise<Ran> => ({ code: await head(io), stdout: Buffer.concat(out), stderr: err }) };
}

describe('head', () => {
  it('-c N /dev/zero prints exactly N zero bytes; sizes take K/M/G and KB/MB/GB', async () => {
    let r = await fakeIo(['-c', '100001', '/dev/zero']).run();
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(100_001);
    expect(r.stdout.every((b) => b === 0)).toBe(true);
    r = await fakeIo(['-c2K', '/dev/zero']).run();
    expect(r.stdout.length).toBe(2048);
    r = await fakeIo(['-c', '1MB', '/dev/zero']).run();
    expect(r.stdout.length).toBe(1_000_000);
    r = await fakeIo(['-c', '0', '/dev/zero']).run();
    expect(r).toEqual({ code: 0, stdout: Buffer.alloc(0), stderr: '' });
  });

  it('reads lines or bytes of a file of the pod, or of stdin', async () => {
    expect((await fakeIo(['-n', '2', '/tmp/lines.txt']).run()).stdout.toString()).toBe('one\ntwo\n');
    expect((await fakeIo(['/tmp/lines.txt']).run()).stdout.toString()).toBe('one\ntwo\nthree\nfour\n');
    expect((await fakeIo(['-c', '6', '/tmp/lines.txt']).run()).stdout.toString()).toBe('one\ntw');
    const stdin = Readable.from([Buffer.from('a\nb'), Buffer.from('\nc\nd\n')]);
    expect((await fakeIo(['-n', '3'], { stdin }).run()).stdout.toString()).toBe('a\nb\nc\n');
  });

  it('ends without waiting for the rest of stdin once it has printed enough', async () => {
    const stdin = new PassThrough();
    stdin.write('first\nsecond\n');
    const r = await fakeIo(['-n', '1'], { stdin }).run();
    expect(r).toEqual({ code: 0, stdout: Buffer.from('first\n'), stderr: '' });
  });

  it('fails like GNU head on a missing file or a bad count', async () => {
    expect(await fakeIo(['/nope']).run()).toMatchObject({ code: 1, stderr: "head: cannot open '/nope' for reading: No such file or directory\n" });
    expect(await fakeIo(['-c', 'lots', '/dev/zero']).run()).toMatchObject({ code: 1, stderr: "head: invalid number of bytes: 'lots'\n" });
  });

  it('writes no more until drain resolves, and stops when the reader goes away', async () => {
    let release: () => void = () => undefined;
    let drains = 0;
    const abort = new AbortController();
    const h = fakeIo(['-c', '1G', '/dev/zero'], {
      signal: abort.signal,
      drain: () => {
        drains++;
        return new Promise((resolve) => (release = resolve));
      },
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const done = h.run();
    await settle();
    expect(drains).toBe(1);
    const first = h.written().length;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(64 * 1024);
    release();
    await settle();
    expect(drains).toBe(2);
    expect(h.written().length).toBe(2 * first);
    abort.abort();
    release();
    const r = await done;
    expect(r.code).toBe(141);
    expect(r.stdout.length).toBe(2 * first);
  });
});
