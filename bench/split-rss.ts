// Memory of the built ztshd as operators run it: all in one process, and the
// proxy run apart from auth (services: [proxy], joined with a proxy token),
// each as its own `ztshd start` from dist/, config from deploy/ztsh.example.yaml.
// RSS is read from /proc after start-up and a few requests through the front door.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { parse, stringify } from 'yaml';

const ZTSHD = fileURLToPath(new URL('../packages/server/bin/ztshd.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../deploy/ztsh.example.yaml', import.meta.url));
const ENV = { PATH: process.env.PATH, ZTSH_CA_KEY_SECRET: 'bench-ca-key-secret-0123456789', ZTSH_OIDC_CLIENT_SECRET: 'bench' };

export interface SplitRss {
  allInOneKiB: number;
  proxyAloneKiB: number;
  authAloneKiB: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.replace(/\D+/g, ''));
}

function start(config: string): ChildProcess {
  const child = spawn(process.execPath, [ZTSHD, 'start', '--config', config], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  return child;
}

/** Waits until the HTTPS listener answers, then sends a few requests like a browser's and kubectl's first ones. */
async function warm(port: number): Promise<void> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const get = (path: string) => request(`https://127.0.0.1:${port}${path}`, { dispatcher }).then((r) => r.body.dump());
  for (let tries = 0; ; tries++) {
    try {
      await get('/');
      break;
    } catch (error) {
      if (tries > 600) throw error;
      await sleep(100);
    }
  }
  for (let i = 0; i < 20; i++) await Promise.all([get('/v1/clusters'), get('/k8s/sandbox/api'), get('/web')]);
  await dispatcher.close();
  await sleep(1000);
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function measureSplitRss(): Promise<SplitRss> {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-rss-'));
  const example = parse(readFileSync(EXAMPLE, 'utf8')) as { proxy: Record<string, unknown>; auth: Record<string, unknown> } & Record<string, unknown>;
  const write = (name: string, config: object) => {
    writeFileSync(join(dir, name), stringify(config));
    return join(dir, name);
  };
  const proxyPort = await freePort();
  const publicAddr = `https://localhost:${proxyPort}`;
  const proxyBase = { ...example.proxy, listen: `127.0.0.1:${proxyPort}`, public_addr: publicAddr, tls: undefined };
  try {
    const all = start(write('all.yaml', { ...example, log_level: 'warn', data_dir: join(dir, 'all'), proxy: proxyBase }));
    await warm(proxyPort);
    const allInOneKiB = rssKiB(all.pid!);
    await stop(all);

    const authPort = await freePort();
    const authData = join(dir, 'auth');
    const auth = start(write('auth.yaml', { ...example, services: ['auth'], log_level: 'warn', data_dir: authData, proxy: undefined, auth: { ...example.auth, listen: `127.0.0.1:${authPort}`, public_addr: publicAddr } }));
    try {
      await warm(authPort);
      const made = spawnSync(process.execPath, [ZTSHD, 'tokens', 'add', '--type', 'proxy', '--data-dir', authData, '--format', 'json'], { env: ENV, encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`ztshd tokens add: ${made.stderr}`);
      const token = (JSON.parse(made.stdout) as { token: string }).token;
      const proxyConfig = { ...proxyBase, auth_server: `https://127.0.0.1:${authPort}`, auth_ca_file: join(authData, 'tls', 'ca.crt'), join_token: token };
      const proxy = start(write('proxy.yaml', { version: 'v1', services: ['proxy'], log_level: 'warn', data_dir: join(dir, 'proxy'), proxy: proxyConfig }));
      try {
        await warm(proxyPort);
        return { allInOneKiB, proxyAloneKiB: rssKiB(proxy.pid!), authAloneKiB: rssKiB(auth.pid!) };
      } finally {
        await stop(proxy);
      }
    } finally {
      await stop(auth);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
