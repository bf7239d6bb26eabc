// `ztshd dev --replicas 3 --postgres URL`, the real command as a contributor
// runs it: three `ztshd start` replicas on a fresh PostgreSQL database behind
// the haproxy front, the dev IdP and the sandbox behind an agent. alice logs
// in through the one address, kubectl reaches the sandbox's pods, one
// replica is killed with SIGKILL (its pid from the banner), and the next
// kubectl still succeeds. Ctrl-C then stops every process it started.
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, newZtshHome } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import { storeLogin } from './helpers/profile.ts';
import { ZTSHD } from './helpers/source-bins.ts';

const kubectlBin = findKubectl('1.33', process.env.PATH);
if (!kubectlBin) throw new Error('kubectl.1.33 is not beside the kubectl on PATH');

interface Replica {
  name: string;
  pid: number;
  port: number;
}

let pg: TestPostgres;
let dev: ChildProcess;
let out = '';
let err = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let dataDir: string;
let home: string;
let url: URL;
let frontPid: number;
let replicas: Replica[] = [];

/** Resolves with the first match of `pattern` in what `ztshd dev` wrote to stdout or stderr. */
function waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = (out + err).match(pattern);
      if (!m) return false;
      clearTimeout(timer);
      dev.stdout!.off('data', check);
      dev.stderr!.off('data', check);
      resolve(m);
      return true;
    };
    const timer = setTimeout(() => reject(new Error(`ztshd dev never printed ${pattern}:\n${out}\n${err}`)), timeoutMs);
    if (check()) return;
    dev.stdout!.on('data', check);
    dev.stderr!.on('data', check);
    void exited.then(() => setTimeout(() => check() || reject(new Error(`ztshd dev exited before printing ${pattern}:\n${out}\n${err}`)), 0));
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  pg = await startPostgres();
  const db = await pg.createDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'ztsh-dev-replicas-'));
  home = newZtshHome();
  dev = spawn(process.execPath, [...ZTSHD, 'dev', '--replicas', '3', '--postgres', db, '--port', '0', '--data-dir', dataDir, '--sandbox-only'], {
    env: { PATH: process.env.PATH ?? '', HOME: home, ZTSH_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  dev.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  exited = new Promise((resolve) => dev.once('exit', (code, signal) => resolve({ code, signal })));
  await waitForOutput(/Press Ctrl-C to stop\./, 240_000);
  const front = /^ {2}front +(https:\/\/localhost:\d+) \(haproxy, pid (\d+);/m.exec(out)!;
  url = new URL(front[1]!);
  frontPid = Number(front[2]);
  replicas = [...out.matchAll(/^ {4}(r\d) +up +pid (\d+) +127\.0\.0\.1:(\d+)$/gm)].map((m) => ({ name: m[1]!, pid: Number(m[2]), port: Number(m[3]) }));
}, 300_000);

afterAll(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    dev.kill('SIGKILL');
    await exited;
  }
  // Whatever a failed test left running.
  for (const pid of [frontPid, ...replicas.map((r) => r.pid)]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  await pg?.stop();
});

describe('ztshd dev --replicas 3 --postgres URL', () => {
  it('prints the one address and three replicas up, each with its pid file', () => {
    expect(out).toMatch(/^ {2}replicas +3 of 3 up, auth and proxy in each \(ztshd start\)$/m);
    expect(replicas.map((r) => r.name)).toEqual(['r1', 'r2', 'r3']);
    expect(new Set(replicas.map((r) => r.port)).size).toBe(3);
    expect(url.port).not.toBe('');
    for (const r of replicas) {
      expect(readFileSync(join(dataDir, 'replicas', r.name, 'ztshd.pid'), 'utf8')).toBe(`${r.pid}\n`);
      expect(alive(r.pid)).toBe(true);
    }
    expect(out).toContain(`pnpm -s ztsh login --proxy ${url.origin}\n`);
    expect(out).toMatch(/^ {2}cluster +sandbox \(env=sandbox\)/m);
  });

  it('serves kubectl through the front, and the next kubectl succeeds after kill -9 of a replica', async () => {
    const tlsCa = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
    const login = await httpLogin(url, tlsCa, DEV_USERS[0]!);
    const ztshHome = newZtshHome();
    storeLogin(ztshHome, url, tlsCa, login);
    const env = { PATH: process.env.PATH!, HOME: ztshHome, ZTSH_HOME: ztshHome, KUBECONFIG: join(ztshHome, 'kubeconfig') };
    // The banner came once the agent held a tunnel to every replica; on a
    // loaded machine one may be dialing again just now (a missed ping), so
    // the listing is asked until the replica that answers has it.
    await expect
      .poll(async () => cliJson<{ name: string; online: boolean }[]>(['kube', 'ls'], env), { timeout: 30_000, interval: 500 })
      .toEqual([expect.objectContaining({ name: 'sandbox', online: true })]);
    const kl = await cli(['kube', 'login', 'sandbox'], env);
    expect(kl.code, kl.stderr).toBe(0);
    const kubectl = () => runKubectl(kubectlBin, ['get', 'pods'], { env, timeoutMs: 30_000 });

    // Round robin: three commands in a row reach every replica.
    for (let i = 0; i < 3; i++) {
      const pods = await kubectl();
      expect(pods.code, pods.stderr).toBe(0);
      expect(pods.stdout).toMatch(/web-1/);
    }

    const victim = replicas[1]!;
    process.kill(victim.pid, 'SIGKILL');
    await waitForOutput(new RegExp(`replica ${victim.name} \\(pid ${victim.pid}\\) exited \\(SIGKILL\\); up: r1, r3 \\(2 of 3\\)`), 30_000);
    expect(existsSync(join(dataDir, 'replicas', victim.name, 'ztshd.pid'))).toBe(false);
    // The very next command, and the ones after it on whichever replica is left, succeed.
    for (let i = 0; i < 3; i++) {
      const pods = await kubectl();
      expect(pods.code, `kubectl after kill -9 of ${victim.name}, try ${i + 1}: ${pods.stderr}`).toBe(0);
      expect(pods.stdout).toMatch(/web-1/);
    }
  });

  it('Ctrl-C stops the front, the replicas and itself', async () => {
    dev.kill('SIGINT');
    expect(await exited).toEqual({ code: 0, signal: null });
    for (const pid of [frontPid, ...replicas.map((r) => r.pid)]) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const r of replicas) expect(existsSync(join(dataDir, 'replicas', r.name, 'ztshd.pid'))).toBe(false);
  });
});
