// /metrics, /healthz and /readyz under attack. Label values stay bounded
// whatever a client sends (random clusters, paths and methods add no
// series, and none of their text reaches a label); /metrics answers only
// its exact path and the exact token; health answers say nothing more than
// ok or a short reason; the main listener never serves /metrics for free.
import { randomBytes } from 'node:crypto';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { KUBE_VERBS, UNKNOWN_CLUSTER } from '@ztsh/proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { scrape, type Scrape } from '../helpers/scrape.ts';
import { rawRequest, readResponse, type RawResponse } from './helpers/raw-client.ts';

const TOKEN = 'a-metrics-token-for-this-test-0123456789';
let k: KubeEnv;
let ops: URL;
const auth = { authorization: `Bearer ${TOKEN}` };
const metrics = (): Promise<Scrape> => scrape(new URL('/metrics', ops), { headers: auth });

beforeAll(async () => {
  k = await startKubeEnv({ stack: { metrics: { listen: '127.0.0.1:0', token: { env: 'METRICS_TOKEN' } }, env: { METRICS_TOKEN: TOKEN } } });
  ops = k.stack.ztshd.metricsUrl!;
});
afterAll(() => k?.close());

/** One request written byte for byte to the plain-HTTP operations listener. */
function rawOps(lines: string[]): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(ops.port), ops.hostname, () => {
      socket.write([...lines, `Host: ${ops.host}`, 'Connection: close', '', ''].join('\r\n'));
      readResponse(socket as unknown as TLSSocket).then(resolve, reject);
    });
    socket.once('error', reject);
  });
}

/** An HTTP/2 request as alice: any method token HTTP/2 lets a client send. */
function h2(method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(k.stack.url, { ca: k.stack.tlsCa, cert: k.alice.cert, key: k.alice.key });
    session.on('error', reject);
    const req = session.request({ ':method': method, ':path': path });
    req.on('response', (h) => {
      req.resume();
      req.on('end', () => {
        session.close();
        resolve(Number(h[':status']));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function labelValues(s: Scrape, name: string, label: string): Set<string> {
  return new Set(s.samples.filter((x) => x.name === name).map((x) => x.labels[label]!));
}

describe('label values are bounded whatever clients send', () => {
  it('random cluster names, paths and methods add no series, and none of their text reaches a label', async () => {
    const noise: string[] = [];
    /** Five requests per junk value, each refused or answered somewhere else along the path. */
    const round = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const junk = `zz${randomBytes(6).toString('hex')}`;
        noise.push(junk);
        // An unknown cluster, with and without a certificate.
        await rawRequest(k.stack, { path: `/k8s/${junk}/api/v1/pods`, as: k.alice });
        await rawRequest(k.stack, { path: `/k8s/${junk}/api/v1/namespaces/${junk}/pods` });
        // The real cluster, with paths nobody serves and names nobody has.
        await rawRequest(k.stack, { path: `/k8s/sandbox/apis/${junk}/v1/${junk}`, as: k.alice });
        await rawRequest(k.stack, { path: `/k8s/sandbox/${junk}/%2e%2e/${junk}`, as: k.alice });
        // Methods no kubectl sends.
        await h2(`X${junk.toUpperCase()}`, `/k8s/sandbox/api/v1/${junk}`);
      }
    };
    const series = (s: Scrape) => s.samples.filter((x) => x.name.startsWith('ztsh_kube_request')).length;
    await round(20);
    const first = await metrics();
    await round(20);
    const second = await metrics();
    // Twenty more random values of each kind: not one more series.
    expect(series(second)).toBe(series(first));
    expect(second.sum('ztsh_kube_requests_total') - first.sum('ztsh_kube_requests_total')).toBe(100);
    expect([...labelValues(second, 'ztsh_kube_requests_total', 'cluster')].sort()).toEqual([UNKNOWN_CLUSTER, 'sandbox'].sort());
    for (const verb of labelValues(second, 'ztsh_kube_requests_total', 'verb')) expect(KUBE_VERBS.has(verb) || verb === 'unknown' || verb === 'other', verb).toBe(true);
    for (const code of labelValues(second, 'ztsh_kube_requests_total', 'code')) expect(code).toMatch(/^[1-5]\d\d$/);
    for (const junk of noise) expect(second.text).not.toContain(junk);
    expect(second.sum('ztsh_kube_requests_total', { cluster: UNKNOWN_CLUSTER, code: '401' })).toBeGreaterThanOrEqual(40);
    expect(second.sum('ztsh_kube_requests_total', { cluster: UNKNOWN_CLUSTER, code: '403' })).toBeGreaterThanOrEqual(40);
    expect(second.sum('ztsh_kube_requests_total', { verb: 'unknown', code: '405' })).toBeGreaterThanOrEqual(40);
  });
});

describe('/metrics answers only the exact path with the exact token', () => {
  it('on the operations listener: a missing, wrong, partial or padded token is a 401', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN} x`, `Token ${TOKEN}`, TOKEN, `Bearer ${Buffer.from(TOKEN).toString('base64')}`]) {
      const lines = ['GET /metrics HTTP/1.1', ...(authorization !== undefined ? [`Authorization: ${authorization}`] : [])];
      const res = await rawOps(lines);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.body).not.toMatch(/ztsh_|process_/);
    }
    expect((await rawOps(['GET /metrics HTTP/1.1', `Authorization: bearer ${TOKEN}`])).status).toBe(200);
  });

  it('a second Authorization header does not smuggle a token past the first', async () => {
    const res = await rawOps(['GET /metrics HTTP/1.1', 'Authorization: Bearer wrong', `Authorization: Bearer ${TOKEN}`]);
    expect(res.status).toBe(401);
  });

  it('other spellings of the path are not /metrics, and other methods are refused', async () => {
    for (const path of ['/metrics/', '/METRICS', '/%6detrics', '/metrics;x', '//metrics', '/./metrics', '/metrics%00', '/metrics#x']) {
      const res = await rawOps([`GET ${path} HTTP/1.1`, `Authorization: Bearer ${TOKEN}`]);
      expect([400, 404], path).toContain(res.status);
      expect(res.body).not.toMatch(/ztsh_|process_/);
    }
    const posted = await rawOps(['POST /metrics HTTP/1.1', `Authorization: Bearer ${TOKEN}`, 'Content-Length: 0']);
    expect(posted.status).toBe(405);
  });

  it('with a listener of its own, the main listener serves no /metrics, not even for the token, over HTTP/1.1 or HTTP/2', async () => {
    for (const res of [await rawRequest(k.stack, { path: '/metrics' }), await rawRequest(k.stack, { path: '/metrics', headers: auth }), await rawRequest(k.stack, { path: '/metrics', as: k.alice, headers: auth })]) {
      expect(res.status).toBe(404);
      expect(res.body).not.toMatch(/ztsh_|process_/);
    }
    expect(await h2('GET', '/metrics')).toBe(404);
  });
});

describe('health answers carry no detail', () => {
  it('/healthz and /readyz say ok and nothing else, on both listeners, whatever the request carries', async () => {
    const evil = { 'X-Forwarded-For': '10.0.0.1', Cookie: 'a=b', Authorization: 'Bearer nope' };
    for (const path of ['/healthz', '/readyz', '/healthz?verbose=1', '/readyz?verbose']) {
      const main = await rawRequest(k.stack, { path, headers: evil });
      const own = await rawOps([`GET ${path} HTTP/1.1`, ...Object.entries(evil).map(([n, v]) => `${n}: ${v}`)]);
      for (const res of [main, own]) {
        expect([res.status, res.body]).toEqual([200, 'ok\n']);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(Object.keys(res.headers)).not.toContain('server');
      }
    }
  });

  it('an upgrade to a health path is no stream: a 404, and the listener keeps answering', async () => {
    const res = await rawRequest(k.stack, { path: '/healthz', headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    expect(res.status).toBe(404);
    expect((await rawRequest(k.stack, { path: '/healthz' })).status).toBe(200);
  });
});
