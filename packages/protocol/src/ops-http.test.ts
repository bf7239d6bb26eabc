import { afterEach, describe, expect, it } from 'vitest';
import { bearerMatches, listenOps, ListenAddress, opsEndpoints, splitListen, type OpsListener } from './ops-http.ts';

const running: OpsListener[] = [];
afterEach(async () => {
  for (const l of running.splice(0)) await l.close();
});

const source = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => 'ztsh_up 1\n' };

async function serve(options: Parameters<typeof opsEndpoints>[0]) {
  const listener = await listenOps('127.0.0.1', 0, opsEndpoints(options));
  running.push(listener);
  return async (path: string, init: RequestInit = {}) => {
    const res = await fetch(new URL(path, listener.url), init);
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
}

describe('operations endpoints', () => {
  it('healthz is ok; readyz says the reason until ready; HEAD has no body', async () => {
    let reason: string | undefined = 'starting';
    const get = await serve({ notReady: () => reason });
    expect(await get('/healthz')).toMatchObject({ status: 200, text: 'ok\n' });
    expect(await get('/readyz')).toMatchObject({ status: 503, text: 'not ready: starting\n' });
    reason = undefined;
    expect(await get('/readyz')).toMatchObject({ status: 200, text: 'ok\n' });
    expect(await get('/readyz', { method: 'HEAD' })).toMatchObject({ status: 200, text: '' });
    expect(await get('/healthz', { method: 'POST' })).toMatchObject({ status: 405 });
  });

  it('a readiness check that throws reads as not ready, with no detail of the error', async () => {
    const get = await serve({
      notReady: () => {
        throw new Error('ECONNREFUSED 10.1.2.3:3025');
      },
    });
    expect(await get('/readyz')).toMatchObject({ status: 503, text: 'not ready: check failed\n' });
  });

  it('/metrics without a token is served as is; with one, only for that bearer token', async () => {
    const open = await serve({ notReady: () => undefined, metrics: source });
    expect(await open('/metrics')).toMatchObject({ status: 200, text: 'ztsh_up 1\n' });
    const guarded = await serve({ notReady: () => undefined, metrics: source, token: 'sixteen-chars-or-more' });
    const refused = await guarded('/metrics');
    expect(refused).toMatchObject({ status: 401, text: 'unauthorized\n' });
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await guarded('/metrics', { headers: { authorization: 'Bearer sixteen-chars-or-more' } })).toMatchObject({ status: 200 });
  });

  it('without a metrics source, /metrics is not its path (the caller\'s handler gets it)', async () => {
    const get = await serve({ notReady: () => undefined });
    expect(await get('/metrics')).toMatchObject({ status: 404 });
  });

  it('a failing metrics source is a bare 500', async () => {
    const get = await serve({ notReady: () => undefined, metrics: { contentType: 'text/plain', metrics: () => Promise.reject(new Error('secret detail')) } });
    expect(await get('/metrics')).toMatchObject({ status: 500, text: 'metrics unavailable\n' });
  });

  it('bearerMatches: the scheme in any case, the token exactly', () => {
    expect(bearerMatches('Bearer abc', 'abc')).toBe(true);
    expect(bearerMatches('bearer abc', 'abc')).toBe(true);
    for (const header of [undefined, ['Bearer abc'], 'Bearer abcd', 'Bearer ab', 'Bearer  abc', 'Bearer abc def', 'abc', 'Basic abc', 'Bearer ', 'Bearer\tabc']) {
      expect(bearerMatches(header, 'abc'), String(header)).toBe(false);
    }
  });

  it('listen addresses: host:port with IPv6 in brackets; nothing else', () => {
    expect(splitListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(splitListen('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    for (const ok of ['127.0.0.1:9464', '[::1]:9464', 'localhost:0']) expect(ListenAddress.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['9464', ':9464', '127.0.0.1:65536', 'http://127.0.0.1:9464', '127.0.0.1:9464/x']) expect(ListenAddress.safeParse(bad).success, bad).toBe(false);
  });
});
