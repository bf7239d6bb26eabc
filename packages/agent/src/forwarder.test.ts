// The forwarder against an apiserver that closes a kept-alive connection just
// as the next request goes out on it: a GET is sent again on a new
// connection, anything else is answered 502 (it may have been acted on).
import 'reflect-metadata';
import { once } from 'node:events';
import { connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createTestTls } from '@ztsh/testkit';
import { TUNNEL_HEADERS } from '@ztsh/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder } from './forwarder.ts';

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

/**
 * An apiserver whose every connection answers its first request and then
 * drops, without a word, whatever comes next on it: what a server does when
 * its idle timeout fires just as a client reuses the connection.
 */
async function flakyApiserver(): Promise<{ server: Server; ca: string; seen: string[] }> {
  const tls = await createTestTls(['127.0.0.1']);
  const seen: string[] = [];
  const answered = new WeakSet<object>();
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (answered.has(req.socket)) return req.socket.destroy();
    answered.add(req.socket);
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`answered ${req.method}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { server, ca: tls.caCert, seen };
}

/** A tunnel stand-in: an HTTP/2 server whose streams go to the forwarder, and a client session to it. */
async function tunnelTo(apiserver: { server: Server; ca: string }) {
  const port = (apiserver.server.address() as AddressInfo).port;
  const forward = createForwarder({ server: new URL(`https://127.0.0.1:${port}`), ca: apiserver.ca }, pino({ level: 'silent' }));
  const h2: Http2Server = createH2Server();
  h2.on('stream', (stream, headers) => forward(stream, headers));
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  const session = connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  closers.push(() => {
    session.close();
    h2.close();
  });
  return (method: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':method': method, ':path': '/api/v1/pods', [TUNNEL_HEADERS.impersonateUser]: 'alice', ...(method === 'POST' ? { 'content-length': '0' } : {}) });
      let body = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end();
    });
}

describe('forwarder: a kept-alive apiserver connection closed under a request', () => {
  it('sends a GET once more on a new connection', async () => {
    const api = await flakyApiserver();
    const send = await tunnelTo(api);
    expect(await send('GET')).toEqual({ status: 200, body: 'answered GET' });
    // Goes out on the kept-alive connection, which drops it; the retry answers.
    expect(await send('GET')).toEqual({ status: 200, body: 'answered GET' });
    expect(api.seen).toEqual(['GET /api/v1/pods', 'GET /api/v1/pods', 'GET /api/v1/pods']);
  });

  it('answers a POST with 502 instead of sending it twice', async () => {
    const api = await flakyApiserver();
    const send = await tunnelTo(api);
    expect((await send('GET')).status).toBe(200);
    const post = await send('POST');
    expect(post.status).toBe(502);
    expect(post.body).toMatch(/could not reach the apiserver/);
    expect(api.seen).toEqual(['GET /api/v1/pods', 'POST /api/v1/pods']);
  });
});
