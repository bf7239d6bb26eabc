// The load balancer the HA tests put in front of ztshd replicas: real
// haproxy, TLS passed through untouched (the client sees each backend's own
// certificate), connections spread over the backends, a killed backend
// skipped, and with a health path, a backend that is not ready left out.
import { createServer as createHttpsServer } from 'node:https';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createTestTls, type TestTls } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaproxy, type Backend, type HaproxyFront } from './helpers/haproxy.ts';

interface NamedServer {
  name: string;
  tls: TestTls;
  server: TlsServer;
  backend: Backend;
  sockets: Set<Socket>;
}

/** A TLS server that says its name on every connection. */
async function namedServer(name: string): Promise<NamedServer> {
  const tls = await createTestTls();
  const sockets = new Set<Socket>();
  const server = createTlsServer({ cert: tls.cert, key: tls.key }, (s) => s.end(`${name}\n`));
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { name, tls, server, sockets, backend: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } };
}

/** One fresh TLS connection through the front: who answered, and the certificate it showed. */
function hello(port: number, cas: string[]): Promise<{ text: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: cas }, () => {
      const fingerprint = s.getPeerX509Certificate()!.fingerprint256;
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.once('end', () => resolve({ text: text.trim(), fingerprint }));
    });
    s.once('error', reject);
  });
}

let a: NamedServer;
let b: NamedServer;
let front: HaproxyFront;
beforeAll(async () => {
  [a, b] = await Promise.all([namedServer('a'), namedServer('b')]);
  front = await startHaproxy([a.backend, b.backend]);
});
afterAll(async () => {
  await front?.stop();
  a?.server.close();
  b?.server.close();
});

describe('haproxy in front of two TLS servers', () => {
  it('passes TLS through: each client sees the certificate of the backend that answered, and both answer', async () => {
    const cas = [a.tls.caCert, b.tls.caCert];
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(await hello(front.port, cas));
    const fingerprintOf = (t: TestTls) => new X509Certificate(t.cert).fingerprint256;
    for (const h of seen) expect(h.fingerprint).toBe(fingerprintOf(h.text === 'a' ? a.tls : b.tls));
    expect(new Set(seen.map((h) => h.text))).toEqual(new Set(['a', 'b']));
  });

  it('skips a killed backend: once haproxy marks it down, every connection reaches the other', async () => {
    b.server.close();
    for (const s of b.sockets) s.destroy();
    await front.waitDown(b.backend);
    const cas = [a.tls.caCert, b.tls.caCert];
    const answers = await Promise.all(Array.from({ length: 10 }, () => hello(front.port, cas)));
    expect(answers.map((h) => h.text)).toEqual(Array(10).fill('a'));
    expect((await front.backends()).map((s) => s.status)).toEqual(['UP', 'DOWN']);
  });

  it('takes a new backend set at run time, on the same port', async () => {
    const c = await namedServer('c');
    try {
      const port = front.port;
      await front.setBackends([c.backend]);
      expect(front.port).toBe(port);
      expect((await hello(front.port, [c.tls.caCert])).text).toBe('c');
    } finally {
      c.server.close();
    }
  });
});

describe('haproxy when a backend dies between two checks', () => {
  it('sends a connection the dead backend refuses on to a live one (redispatch), so no client sees the death', async () => {
    const [x, y] = await Promise.all([namedServer('x'), namedServer('y')]);
    const lb = await startHaproxy([x.backend, y.backend]);
    try {
      // Closed, not yet seen down: haproxy still picks it for every other connection.
      await new Promise<void>((r) => y.server.close(() => r()));
      const answers = await Promise.all(Array.from({ length: 6 }, () => hello(lb.port, [x.tls.caCert])));
      expect(answers.map((h) => h.text)).toEqual(Array(6).fill('x'));
    } finally {
      await lb.stop();
      x.server.close();
    }
  });

  it('cuts the open connections of a backend it takes out', async () => {
    const z = await namedServer('z');
    const lb = await startHaproxy([z.backend]);
    try {
      // A client holding a raw TCP connection to z through the front.
      const held = (await import('node:net')).connect(lb.port, '127.0.0.1');
      await new Promise<void>((r) => held.once('connect', () => r()));
      await new Promise<void>((r) => (z.sockets.size > 0 ? r() : z.server.once('connection', () => r())));
      const closed = new Promise<void>((r) => held.once('close', () => r()));
      held.on('error', () => undefined);
      await lb.setBackends([]);
      await closed;
    } finally {
      await lb.stop();
      z.server.close();
    }
  });
});

describe('haproxy with a health path (ztshd: /readyz)', () => {
  it('leaves out a backend whose health path does not answer 200, and takes it once it does', async () => {
    const tls = await createTestTls();
    let ready = false;
    const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      if (req.url === '/readyz') res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'not ready: starting');
      else res.end('served');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const backend = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
    const checked = await startHaproxy([], { healthPath: '/readyz' });
    try {
      // Not ready: no check passes (the wait is only how long to give it, not a measured time).
      await expect(checked.setBackends([backend], { timeoutMs: 2_000 })).rejects.toThrow(/health check/);
      // Taken out after three failed checks ("fall 3"): it reads "UP 1/3" and
      // "UP 2/3" on the way, and on a busy machine the checks come later than
      // the wait above. Wait for the end state, then look.
      await expect
        .poll(async () => (await checked.backends())[0], { timeout: 30_000 })
        // "* " before the result: a check is running at that moment.
        .toMatchObject({ status: 'DOWN', check: expect.stringMatching(/^(\* )?L7STS/) });
      ready = true;
      await checked.setBackends([backend]);
      expect((await checked.backends())[0]).toMatchObject({ status: 'UP', check: expect.stringMatching(/^(\* )?L7OK$/) });
    } finally {
      await checked.stop();
      server.close();
    }
  });

  it('refuses a health path that would change the config', async () => {
    await expect(startHaproxy([], { healthPath: '/readyz\n  bind 0.0.0.0:80' })).rejects.toThrow(/plain path/);
  });
});
