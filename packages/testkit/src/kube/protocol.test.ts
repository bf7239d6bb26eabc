// Wire-level checks that need no kubectl: Status bodies, watch semantics, the SPDY refusal,
// exec over the older v4 channel protocol, exec output in bulk, line ends with and without a
// TTY, and the PATCH types.
import { once } from 'node:events';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createTestTls, type TestTls } from '../test-tls.ts';
import { startKubeDouble, type KubeDouble } from './index.ts';

const TOKEN = 'sa-token';
let tls: TestTls;
let double: KubeDouble;

beforeAll(async () => {
  tls = await createTestTls();
  double = await startKubeDouble({
    tls,
    token: TOKEN,
    rbac: [{ user: 'alice', allow: { verbs: ['get'], resources: ['pods'], namespaces: ['default'] } }],
  });
  double.addPod('default', 'web', { containers: ['app', 'sidecar'] });
});

afterAll(() => double?.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(method: string, path: string, opts: { headers?: Record<string, string | string[]>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, double.url),
      { method, ca: tls.caCert, headers: { authorization: `Bearer ${TOKEN}`, ...opts.headers } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const json = (a: Answer) => JSON.parse(a.body) as Record<string, unknown>;

describe('Status errors', () => {
  it('401 without a valid bearer token', async () => {
    const a = await call('GET', '/api/v1/namespaces/default/pods', { headers: { authorization: 'Bearer nope' } });
    expect(a.status).toBe(401);
    expect(json(a)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
  });

  it('404 NotFound and 409 AlreadyExists with the apiserver wording', async () => {
    let a = await call('GET', '/api/v1/namespaces/default/configmaps/nope');
    expect(json(a)).toMatchObject({ code: 404, reason: 'NotFound', message: 'configmaps "nope" not found', details: { name: 'nope', kind: 'configmaps' } });
    const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'twice' } });
    a = await call('POST', '/api/v1/namespaces/default/configmaps', { body: cm, headers: { 'content-type': 'application/json' } });
    expect(a.status).toBe(201);
    a = await call('POST', '/api/v1/namespaces/default/configmaps', { body: cm, headers: { 'content-type': 'application/json' } });
    expect(json(a)).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'configmaps "twice" already exists' });
    a = await call('GET', '/apis/apps/v1/namespaces/default/deployments/none');
    expect(json(a)).toMatchObject({ message: 'deployments.apps "none" not found', details: { group: 'apps' } });
  });

  it('403 for an impersonated user the table does not allow', async () => {
    const a = await call('GET', '/api/v1/namespaces/default/pods/web/log', { headers: { 'impersonate-user': 'alice' } });
    expect(json(a)).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message: 'pods "web" is forbidden: User "alice" cannot get resource "pods/log" in API group "" in the namespace "default"',
    });
    const ok = await call('GET', '/api/v1/namespaces/default/pods/web', { headers: { 'impersonate-user': 'alice' } });
    expect(ok.status).toBe(200);
  });
});

describe('watch', () => {
  it('starts with ADDED for current objects, then streams each change as its own line', async () => {
    const events: { type: string; object: { metadata: { name: string; resourceVersion: string } } }[] = [];
    const req = request(new URL('/api/v1/namespaces/default/configmaps?watch=true', double.url), {
      ca: tls.caCert,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    let buf = '';
    const next = () =>
      new Promise<void>((resolve) => {
        const onData = (d: Buffer) => {
          buf += d.toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            events.push(JSON.parse(buf.slice(0, nl)) as (typeof events)[number]);
            buf = buf.slice(nl + 1);
          }
          res.off('data', onData);
          resolve();
        };
        res.on('data', onData);
      });
    await next();
    expect(events.map((e) => [e.type, e.object.metadata.name])).toContainEqual(['ADDED', 'twice']);
    const body = JSON.stringify({ metadata: { name: 'watched' }, data: { a: '1' } });
    const created = next();
    await call('POST', '/api/v1/namespaces/default/configmaps', { body, headers: { 'content-type': 'application/json' } });
    await created;
    expect(events.at(-1)).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'watched' } } });
    const deleted = next();
    await call('DELETE', '/api/v1/namespaces/default/configmaps/watched');
    await deleted;
    expect(events.at(-1)?.type).toBe('DELETED');
    req.destroy();

    // From a resourceVersion: only what happened after it.
    const since = events.find((e) => e.object.metadata.name === 'watched')?.object.metadata.resourceVersion ?? '';
    const replay = await call('GET', `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${since}&timeoutSeconds=1`);
    expect(replay.body.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['DELETED']);
  });
});

describe('patch types', () => {
  it('accepts json-patch, merge-patch and strategic-merge-patch', async () => {
    const path = '/api/v1/namespaces/default/configmaps/twice';
    let a = await call('PATCH', path, { body: '[{"op":"add","path":"/data","value":{"x":"1"}}]', headers: { 'content-type': 'application/json-patch+json' } });
    expect(json(a)).toMatchObject({ data: { x: '1' } });
    a = await call('PATCH', path, { body: '{"data":{"y":"2","x":null}}', headers: { 'content-type': 'application/merge-patch+json' } });
    expect((json(a) as { data: unknown }).data).toEqual({ y: '2' });
    a = await call('PATCH', path, { body: '{"data":{"z":"3"}}', headers: { 'content-type': 'application/strategic-merge-patch+json' } });
    expect((json(a) as { data: unknown }).data).toEqual({ y: '2', z: '3' });
    a = await call('PATCH', path, { body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(a.status).toBe(415);
  });
});

describe('exec and SPDY', () => {
  it('refuses SPDY with a 400 Status, after authorization', async () => {
    const spdy = { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' };
    const path = '/api/v1/namespaces/default/pods/web/exec?command=echo&stdout=true';
    const refused = await upgradeAnswer(path, spdy);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ kind: 'Status', code: 400, message: expect.stringContaining('SPDY is not supported') });
    const forbidden = await upgradeAnswer(path, { ...spdy, 'impersonate-user': 'alice' });
    expect(forbidden.status).toBe(403);
  });

  it('runs echo over v4.channel.k8s.io and reports success on channel 3', async () => {
    const ws = new WebSocket(
      new URL('/api/v1/namespaces/default/pods/web/exec?command=echo&command=hi&container=sidecar&stdout=true', double.url.href.replace('https', 'wss')),
      ['v4.channel.k8s.io'],
      { ca: tls.caCert, headers: { authorization: `Bearer ${TOKEN}` } },
    );
    const messages: Buffer[] = [];
    ws.on('message', (d: Buffer) => messages.push(d));
    await once(ws, 'close');
    expect(messages.map((m) => [m[0], m.subarray(1).toString()])).toEqual([
      [1, 'hi\n'],
      [3, '{"metadata":{},"status":"Success"}'],
    ]);
  });
});

describe('exec output in bulk', () => {
  it('head -c 8M /dev/zero arrives whole over v5.channel.k8s.io, then Success', async () => {
    const ws = new WebSocket(
      new URL('/api/v1/namespaces/default/pods/web/exec?command=head&command=-c&command=8M&command=/dev/zero&stdout=true', double.url.href.replace('https', 'wss')),
      ['v5.channel.k8s.io'],
      { ca: tls.caCert, headers: { authorization: `Bearer ${TOKEN}` } },
    );
    let stdout = 0;
    let nonZero = 0;
    const other: [number | undefined, string][] = [];
    ws.on('message', (d: Buffer) => {
      if (d[0] !== 1) return other.push([d[0], d.subarray(1).toString()]);
      stdout += d.length - 1;
      for (let i = 1; i < d.length; i++) nonZero += d[i] === 0 ? 0 : 1;
    });
    await once(ws, 'close');
    expect(stdout).toBe(8 * 1024 * 1024);
    expect(nonZero).toBe(0);
    expect(other).toEqual([[3, '{"metadata":{},"status":"Success"}']]);
  });
});

describe('line ends: a TTY writes CR LF, a plain exec LF', () => {
  const exec = (query: string) => {
    const ws = new WebSocket(new URL(`/api/v1/namespaces/default/pods/web/exec?${query}`, double.url.href.replace('https', 'wss')), ['v5.channel.k8s.io'], {
      ca: tls.caCert,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const channels: Record<number, string> = {};
    ws.on('message', (d: Buffer) => (channels[d[0] ?? -1] = (channels[d[0] ?? -1] ?? '') + d.subarray(1).toString()));
    return { ws, channels, closed: once(ws, 'close') };
  };
  const script = 'command=sh&command=-c&command=echo%20one%3B%20uname%3B%20nosuch';

  it('without a TTY: stdout and stderr apart, LF as written', async () => {
    const { channels, closed } = exec(`${script}&stdout=true&stderr=true`);
    await closed;
    expect(channels[1]).toBe('one\nLinux\n');
    expect(channels[2]).toBe('exec: "nosuch": executable file not found in $PATH\n');
  });

  it('with a TTY: one stream, every LF as CR LF', async () => {
    const { channels, closed } = exec(`${script}&stdout=true&stderr=true&tty=true`);
    await closed;
    expect(channels[1]).toBe('one\r\nLinux\r\nexec: "nosuch": executable file not found in $PATH\r\n');
    expect(channels[2]).toBeUndefined();
  });

  it('an interactive shell on a TTY echoes, prompts with its directory, and ends lines with CR LF', async () => {
    const { ws, channels, closed } = exec('command=sh&stdin=true&stdout=true&tty=true');
    await once(ws, 'open');
    const until = async (text: string) => {
      while (!(channels[1] ?? '').endsWith(text)) await once(ws, 'message');
    };
    await until('/ # ');
    ws.send(Buffer.from('\x00cd /tmp\r'));
    await until('/tmp # ');
    ws.send(Buffer.from('\x00pwd\r'));
    await until('/tmp\r\n/tmp # ');
    ws.send(Buffer.from('\x00exit\r'));
    await closed;
    expect(channels[1]).toBe('/ # cd /tmp\r\n/tmp # pwd\r\n/tmp\r\n/tmp # exit\r\n');
  });
});

/** Sends an upgrade request and returns the (refusing) HTTP answer. */
function upgradeAnswer(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, double.url), {
      method: 'POST',
      ca: tls.caCert,
      headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', () => reject(new Error('unexpected upgrade')));
    req.on('error', reject);
    req.end();
  });
}
