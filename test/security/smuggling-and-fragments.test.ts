// Findings of a review of the kube front door, each pinned here:
// - a body with no length on a GET was passed to the agent's (and, run
//   apart, the auth forwarder's) kept-alive HTTP/1.1 connection unframed,
//   where the next server read it as a request of its own, carrying the
//   agent's service-account token or the proxy's certificate;
// - a fragmented WebSocket message on an exec was relayed, read by the
//   recorder as one channel and by the apiserver (which reads each frame as
//   a message) as stdin.
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { startTestStack } from '../helpers/stack.ts';
import { openTls, rawRequest, readResponse } from './helpers/raw-client.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

function chunk(s: string): string {
  return `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
}

const SMUGGLED = 'GET /api/v1/namespaces/default/secrets HTTP/1.1\r\nImpersonate-User: system:admin\r\nImpersonate-Group: system:masters\r\nX-Ignore: ';

describe('request bodies are framed at every hop', () => {
  it('a GET with a chunked body is refused with a 400 Status, and nothing reaches the cluster', async () => {
    const before = k.kube.requests.length;
    const a = await openTls(k.stack, k.alice);
    a.write('GET /k8s/sandbox/api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk(SMUGGLED) + '0\r\n\r\n');
    const answer = await readResponse(a);
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ kind: 'Status', code: 400 });
    // Any next request through the same agent is just itself.
    const next = await rawRequest(k.stack, { path: '/k8s/sandbox/version', as: k.alice });
    expect(next.status).toBe(200);
    const received = k.kube.requests.slice(before);
    expect(received.map((r) => r.path)).toEqual(['/version']);
    expect(received.every((r) => r.impersonatedUser === 'alice')).toBe(true);
  });

  it('a GET with a Content-Length body, and an upgrade with one, are refused', async () => {
    const before = k.kube.requests.length;
    const get = await rawRequest(k.stack, { path: '/k8s/sandbox/api/v1/namespaces/default/pods', as: k.alice, body: SMUGGLED });
    expect(get.status).toBe(400);
    const upgrade = await rawRequest(k.stack, {
      path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=true&stdout=true',
      as: k.alice,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io', 'Content-Length': '4' },
      body: 'abcd',
    });
    expect(upgrade.status).toBe(400);
    expect(k.kube.requests.length).toBe(before);
  });

  it('a POST with a chunked body arrives whole, as one request', async () => {
    const before = k.kube.requests.length;
    const a = await openTls(k.stack, k.alice);
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chunked' }, data: { a: 'b' } });
    a.write(
      'POST /k8s/sandbox/api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        chunk(body.slice(0, 20)) +
        chunk(body.slice(20)) +
        '0\r\n\r\n',
    );
    const answer = await readResponse(a);
    expect(answer.status).toBe(201);
    expect(k.kube.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/v1/namespaces/default/configmaps']);
  });

  it('run apart from auth, a GET with a chunked body is refused before it reaches auth, so no request rides on the proxy\'s certificate', async () => {
    const stack = await startTestStack({ split: true });
    try {
      const forged = 'forged-by-smuggling';
      const batch = JSON.stringify({ events: [{ type: 'lock.removed', success: true, durable: true, input: { user: 'mallory', message: forged, fields: {} } }] });
      const smuggled = `POST /v1/internal/audit HTTP/1.1\r\nHost: auth\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(batch)}\r\n\r\n${batch}`;
      const s: TLSSocket = await openTls({ url: stack.url, tlsCa: stack.tlsCa });
      s.write('GET /v1/connectors HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk(smuggled) + '0\r\n\r\n');
      const answer = await readResponse(s);
      expect(answer.status).toBe(400);
      // The next forwarded request is only itself.
      const next = await rawRequest({ url: stack.url, tlsCa: stack.tlsCa }, { path: '/v1/connectors' });
      expect(next.status).toBe(200);
      expect((await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).some((e) => e.message === forged)).toBe(false);
    } finally {
      await stack.close();
    }
  });
});

describe('methods as written', () => {
  it('run apart from auth, an HTTP/2 "get" with a body is not passed to auth as a GET', async () => {
    const { connect } = await import('node:http2');
    const stack = await startTestStack({ split: true });
    try {
      const session = connect(stack.url.origin, { ca: stack.tlsCa });
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'get', ':path': '/v1/connectors', 'content-type': 'application/json' }, { endStream: false });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end('{"a":1}');
      });
      session.close();
      expect(status).toBe(405);
    } finally {
      await stack.close();
    }
  });
});

/** A masked client WebSocket frame. */
function wsFrame(opcode: number, payload: Buffer, fin = true, rsv = 0): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const b0 = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const head = len < 126 ? Buffer.from([b0, 0x80 | len]) : Buffer.from([b0, 0x80 | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

/** Opens an exec of `sh` as alice; resolves once the 101 is in, with everything after it collected. */
async function openExec(): Promise<{ socket: TLSSocket; closed: Promise<Buffer> }> {
  const socket = await openTls(k.stack, k.alice);
  let buf = Buffer.alloc(0);
  const upgraded = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.includes('\r\n\r\n')) resolve();
    });
    socket.on('error', reject);
  });
  const closed = new Promise<Buffer>((resolve) => socket.on('close', () => resolve(buf)));
  socket.write(
    'GET /k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdin=true&stderr=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n',
  );
  await upgraded;
  expect(buf.toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
  return { socket, closed };
}

describe('exec frames the recorder and the cluster could read differently are refused', () => {
  it.each([
    ['an empty first fragment, then stdin in a continuation', [wsFrame(0x2, Buffer.alloc(0), false), wsFrame(0x0, Buffer.from('\x00mkdir /tmp/frag-a\n'))], '/tmp/frag-a'],
    ['a stdout-channel fragment, then stdin bytes in a continuation', [wsFrame(0x2, Buffer.from('\x01junk'), false), wsFrame(0x0, Buffer.from('\x00mkdir /tmp/frag-b\n'))], '/tmp/frag-b'],
    ['a frame with a reserved bit set', [wsFrame(0x2, Buffer.from('\x00mkdir /tmp/frag-c\n'), true, 4)], '/tmp/frag-c'],
  ])('%s: the session ends with close code 1002 and nothing runs', async (_name, frames, dir) => {
    const { socket, closed } = await openExec();
    socket.write(Buffer.concat(frames));
    const after = await closed;
    // The close frame the proxy sent: opcode 8, code 1002.
    const at = after.indexOf(Buffer.from([0x88]));
    expect(at).toBeGreaterThan(0);
    expect(after.readUInt16BE(at + 2)).toBe(1002);
    expect(k.kube.podFs('default', 'web-1').stat(dir)).toBeUndefined();
  });
});
