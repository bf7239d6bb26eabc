// `ztshd dev --replicas N --postgres URL --postgres-password-file FILE`: new
// command-line inputs. A database password never belongs on a command line
// (`ps` shows it to every user of the machine), so a URL holding one is
// refused as the storage section refuses it, without repeating it; a URL the
// parser would quietly change (tabs, newlines) is refused rather than
// rewritten; a password file that is a device or a directory is refused
// without reading it; and nothing starts or is written before the flags are
// found good.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ZtshError } from '@ztsh/protocol';
import { devStorage, replicaCount } from '../../packages/server/src/replicas-flags.ts';
import { ZTSHD } from '../helpers/source-bins.ts';

const SECRET = 'n0t-f0r-argv-7f3a';
const GOOD = 'postgres://ztsh@127.0.0.1:1/ztsh';

function ztshdDev(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; dataDir: string }> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'ztsh-dev-flags-')), 'data');
  const home = mkdtempSync(join(tmpdir(), 'ztsh-dev-flags-home-'));
  const child = spawn(process.execPath, [...ZTSHD, 'dev', '--port', '0', '--data-dir', dataDir, '--sandbox-only', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: home, ZTSH_HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr, dataDir })));
}

/** The flags as main.ts hands them over, checked without starting a process. */
function flags(args: { replicas?: string; postgres?: string; postgresPasswordFile?: string }, env: Record<string, string> = {}) {
  return devStorage({ ...args, replicas: args.replicas === undefined ? undefined : replicaCount(args.replicas) }, env);
}

const PASSWORD_URLS = [
  ['in the user info', `postgres://ztsh:${SECRET}@127.0.0.1:5432/ztsh`],
  ['percent-encoded', `postgres://ztsh:${encodeURIComponent(SECRET).replace(/n/g, '%6E')}@127.0.0.1:5432/ztsh`],
  ['as a query parameter', `postgres://ztsh@127.0.0.1:5432/ztsh?password=${SECRET}`],
  ['as a query parameter in another case', `postgresql://ztsh@127.0.0.1:5432/ztsh?sslmode=disable&PassWord=${SECRET}`],
] as const;

describe('--postgres refuses a password on the command line', () => {
  it.each(PASSWORD_URLS)('%s: refused with the ways to give it, never echoed', (_, url) => {
    const error = (() => {
      try {
        flags({ replicas: '3', postgres: url });
      } catch (e) {
        return e as ZtshError;
      }
      throw new Error('accepted');
    })();
    expect(error.message).toBe('--postgres: the URL must not hold a password');
    expect(error.hint).toBe('set PGPASSWORD, or put it in a file and give --postgres-password-file FILE');
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(SECRET.slice(4));
  });

  it('the real command: refused, never echoed, nothing started or written', async () => {
    for (const [, url] of [PASSWORD_URLS[0], PASSWORD_URLS[3]]) {
      const r = await ztshdDev(['--replicas', '3', '--postgres', url]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('error: --postgres: the URL must not hold a password\nhint: set PGPASSWORD, or put it in a file and give --postgres-password-file FILE\n');
      expect(r.stdout + r.stderr).not.toContain(SECRET.slice(4));
      expect(existsSync(r.dataDir)).toBe(false);
    }
  });
});

describe('--postgres takes only a URL it passes on unchanged', () => {
  it.each([
    ['a tab, which the URL parser drops', 'postgres://ztsh@127.0.0.1:5432/zt\tsh', 'the URL must not hold spaces or control characters'],
    ['a newline, which would be a new line in a config', 'postgres://ztsh@127.0.0.1:5432/ztsh\nstorage: x', 'the URL must not hold spaces or control characters'],
    ['an escape sequence', 'postgres://ztsh@127.0.0.1:5432/ztsh\u001b[2J', 'the URL must not hold spaces or control characters'],
    ['a space', 'postgres://ztsh@127.0.0.1:5432/ztsh sslmode=disable', 'the URL must not hold spaces or control characters'],
    ['another scheme', 'http://ztsh@127.0.0.1:5432/ztsh', 'must start with postgres:// or postgresql://'],
    ['no URL at all', 'ztsh', 'must be a URL like postgres://ztsh@db.internal:5432/ztsh'],
  ])('%s: refused', (_, url, message) => {
    expect(() => flags({ replicas: '2', postgres: url })).toThrow(new ZtshError('bad_request', `--postgres: ${message}`));
  });

  it('a good URL goes into the storage section as given, the password by reference only', () => {
    expect(flags({ replicas: '3', postgres: GOOD }, { PGPASSWORD: SECRET })).toEqual({ replicas: 3, storage: { engine: 'postgres', url: GOOD, pool: 5, password_env: 'PGPASSWORD' } });
    expect(JSON.stringify(flags({ postgres: GOOD }, { PGPASSWORD: SECRET }))).not.toContain(SECRET);
  });
});

describe('--replicas', () => {
  it('without --postgres: a clear error, since SQLite is one replica', async () => {
    const r = await ztshdDev(['--replicas', '3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: --replicas needs --postgres URL: the replicas share one PostgreSQL database (SQLite is one replica)\nhint: ztshd dev --replicas 3 --postgres postgres://ztsh@127.0.0.1:5432/ztsh\n',
    );
    expect(existsSync(r.dataDir)).toBe(false);
  });

  it.each(['0', '17', '-1', '3x', '1e1', ' 3', '0x3', '3.0', '99999999999999999999', ''])('%j is not a replica count', (n) => {
    expect(() => replicaCount(n)).toThrow('a whole number from 1 to 16.');
  });

  it('the real command says which option is wrong, and with --split refuses (every replica runs auth and proxy together)', async () => {
    const bad = await ztshdDev(['--replicas', '17', '--postgres', GOOD]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("error: option '--replicas <n>' argument '17' is invalid. a whole number from 1 to 16.\n");
    expect(existsSync(bad.dataDir)).toBe(false);
    const split = await ztshdDev(['--replicas', '2', '--postgres', GOOD, '--split']);
    expect(split.code).toBe(2);
    expect(split.stderr).toMatch(/cannot be used with option '--split'/);
  });
});

describe('--postgres-password-file', () => {
  it.each([
    ['a device that never ends', () => '/dev/zero', (p: string) => `${p} is not a small regular file`],
    ['a directory', () => mkdtempSync(join(tmpdir(), 'ztsh-pw-dir-')), (p: string) => `${p} is not a small regular file`],
    ['a file that is not there', () => join(tmpdir(), 'ztsh-no-such-password-file'), (p: string) => `cannot read ${p}`],
    [
      'an empty file',
      () => {
        const f = join(mkdtempSync(join(tmpdir(), 'ztsh-pw-')), 'password');
        writeFileSync(f, '\n');
        return f;
      },
      (p: string) => `${p} is empty`,
    ],
  ])('%s: refused without reading it', (_, file, message) => {
    const path = file();
    expect(() => flags({ replicas: '2', postgres: GOOD, postgresPasswordFile: path })).toThrow(new ZtshError('bad_request', `--postgres-password-file: ${message(path)}`));
  });

  it('the real command refuses /dev/zero at once, starting nothing', async () => {
    const r = await ztshdDev(['--replicas', '2', '--postgres', GOOD, '--postgres-password-file', '/dev/zero']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: --postgres-password-file: /dev/zero is not a small regular file\n');
    expect(existsSync(r.dataDir)).toBe(false);
  });

  it('given together with PGPASSWORD: refused, and neither password is shown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-pw-'));
    writeFileSync(join(dir, 'password'), `${SECRET}-file\n`, { mode: 0o600 });
    const r = await ztshdDev(['--replicas', '2', '--postgres', GOOD, '--postgres-password-file', join(dir, 'password')], { PGPASSWORD: SECRET });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: the database password is given twice: PGPASSWORD is set and --postgres-password-file given\nhint: unset PGPASSWORD, or leave out --postgres-password-file\n');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('a good file goes into the storage section by its path, never its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-pw-'));
    writeFileSync(join(dir, 'password'), `${SECRET}\n`, { mode: 0o600 });
    const made = flags({ postgres: GOOD, postgresPasswordFile: join(dir, 'password') });
    expect(made).toEqual({ replicas: 1, storage: { engine: 'postgres', url: GOOD, pool: 5, password_file: join(dir, 'password') } });
  });

  it('without --postgres: refused', () => {
    expect(() => flags({ postgresPasswordFile: '/etc/hostname' })).toThrow(new ZtshError('bad_request', '--postgres-password-file is for --postgres URL'));
  });
});
