import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ZtshdConfigSchema } from './config.ts';
import { startOps, type ZtshdOps } from './metrics-listener.ts';

const log = pino({ level: 'silent' });
const secrets = { env: { TOKEN: 'a-token-of-enough-length', SHORT: 'short' }, baseDir: '/nonexistent' };
const running: (ZtshdOps | Server)[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    if ('registry' in r) await r.close();
    else await new Promise((done) => r.close(done));
  }
});

const base = { version: 'v1', proxy: { public_addr: 'https://ztsh.example.com' }, auth: { connectors: [{ name: 'c', type: 'oidc', issuer: 'https://idp.example.com', client_id: 'z', client_secret: 's', claims_to_roles: [{ claim: 'g', value: 'v', roles: ['r'] }] }] } };

/** A main listener as ztshd has one: the ops endpoints in front of the rest. */
async function mainListener(ops: ZtshdOps): Promise<URL> {
  const server = createServer(ops.wrap((_req, res) => {
    res.writeHead(404);
    res.end('the app\n');
  }));
  running.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

const get = async (url: URL, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return [res.status, await res.text()] as const;
};

describe('metrics config', () => {
  it('is optional, and when present needs listen or token', () => {
    expect(ZtshdConfigSchema.parse(base).metrics).toBeUndefined();
    expect(ZtshdConfigSchema.safeParse({ ...base, metrics: {} }).error?.issues[0]?.message).toMatch(/give listen/);
    expect(ZtshdConfigSchema.safeParse({ ...base, metrics: { listen: '0.0.0.0:9464' } }).success).toBe(true);
    expect(ZtshdConfigSchema.safeParse({ ...base, metrics: { token: { env: 'TOKEN' } } }).success).toBe(true);
    expect(ZtshdConfigSchema.safeParse({ ...base, metrics: { listen: '9464' } }).success).toBe(false);
    expect(ZtshdConfigSchema.safeParse({ ...base, metrics: { listen: '0.0.0.0:9464', path: '/m' } }).success).toBe(false);
  });
});

describe('startOps', () => {
  it('without a metrics section: health on the main listener, no /metrics, no listener of its own', async () => {
    const ops = await startOps(undefined, secrets, log);
    running.push(ops);
    expect(ops.registry).toBeUndefined();
    expect(ops.url).toBeUndefined();
    const main = await mainListener(ops);
    expect(await get(new URL('/healthz', main))).toEqual([200, 'ok\n']);
    expect(await get(new URL('/readyz', main))).toEqual([503, 'not ready: starting\n']);
    ops.ready(() => undefined);
    expect(await get(new URL('/readyz', main))).toEqual([200, 'ok\n']);
    expect(await get(new URL('/metrics', main))).toEqual([404, 'the app\n']);
  });

  it('with a token: /metrics on the main listener for that token only; readyz says shutting down once closing', async () => {
    const ops = await startOps({ token: { env: 'TOKEN' } }, secrets, log);
    const main = await mainListener(ops);
    expect((await get(new URL('/metrics', main)))[0]).toBe(401);
    const [status, text] = await get(new URL('/metrics', main), { authorization: 'Bearer a-token-of-enough-length' });
    expect(status).toBe(200);
    expect(text).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m);
    ops.ready(() => undefined);
    await ops.close();
    expect(await get(new URL('/readyz', main))).toEqual([503, 'not ready: shutting down\n']);
  });

  it('with listen: everything on its own listener; the main listener keeps /metrics to itself', async () => {
    const ops = await startOps({ listen: '127.0.0.1:0' }, secrets, log);
    running.push(ops);
    expect((await get(new URL('/metrics', ops.url!)))[0]).toBe(200);
    expect(await get(new URL('/readyz', ops.url!))).toEqual([503, 'not ready: starting\n']);
    expect(await get(new URL('/metrics', await mainListener(ops)))).toEqual([404, 'the app\n']);
  });

  it('with listen and a token: the token guards the own listener, and /metrics stays off the main one', async () => {
    const ops = await startOps({ listen: '127.0.0.1:0', token: { env: 'TOKEN' } }, secrets, log);
    running.push(ops);
    expect((await get(new URL('/metrics', ops.url!)))[0]).toBe(401);
    expect((await get(new URL('/metrics', ops.url!), { authorization: 'Bearer a-token-of-enough-length' }))[0]).toBe(200);
    const main = await mainListener(ops);
    expect(await get(new URL('/metrics', main), { authorization: 'Bearer a-token-of-enough-length' })).toEqual([404, 'the app\n']);
  });

  it('refuses a short token and a token source that is not there, naming metrics.token', async () => {
    await expect(startOps({ token: { env: 'SHORT' } }, secrets, log)).rejects.toThrow(/metrics\.token: must be at least 16 characters/);
    await expect(startOps({ token: { env: 'NOPE' } }, secrets, log)).rejects.toThrow(/metrics\.token: environment variable NOPE is not set/);
  });

  it('names metrics.listen when its port is taken', async () => {
    const ops = await startOps({ listen: '127.0.0.1:0' }, secrets, log);
    running.push(ops);
    await expect(startOps({ listen: `127.0.0.1:${ops.url!.port}` }, secrets, log)).rejects.toThrow(/metrics\.listen: cannot listen on 127\.0\.0\.1:\d+/);
  });
});
