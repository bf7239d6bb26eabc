// The forwarder against an apiserver that speaks HTTP/2 (ALPN h2, as
// kube-apiserver does): plain requests share one pooled connection, and a
// connection the apiserver closes is replaced for the next request.
import 'reflect-metadata';
import { once } from 'node:events';
import { connect, createSecureServer, createServer as createH2Server, type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createTestTls } from '@ztsh/testkit';
import { TUNNEL_HEADERS } from '@ztsh/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder } from './forwarder.ts';

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

interface Seen {
  method: string;
  path: string;
  httpVersion: string;
  session: object | undefined;
  headers: Record<string, unknown>;
  body: string;
}

async function h2Apiserver(): Promise<{ server: Http2SecureServer; ca: string; seen: Seen[]; sessions: ServerHttp2Session[] }> {
  const tls = await createTestTls(['127.0.0.1']);
  const seen: Seen[] = [];
  const sessions: ServerHttp2Session[] = [];
  const server = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, path: req.url, httpVersion: req.httpVersion, session: req.stream?.session, headers: { ...req.headers }, body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`answered ${req.method} ${body}`);
    });
  });
  server.on('session', (s: ServerHttp2Session) => sessions.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return { server, ca: tls.caCert, seen, sessions };
}

async function tunnelTo(apiserver: { server: Http2SecureServer; ca: string }) {
  const port = (apiserver.server.address() as AddressInfo).port;
  const forward = createForwarder({ server: new URL(`https://127.0.0.1:${port}`), ca: apiserver.ca, token: () => 'sa-token' }, pino({ level: 'silent' }));
  const h2: Http2Server = createH2Server();
  h2.on('stream', (stream, headers) => forward(stream, headers));
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  const session = connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  closers.push(() => {
    session.close();
    h2.close();
  });
  return (method: string, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':method': method, ':path': '/api/v1/pods', [TUNNEL_HEADERS.impersonateUser]: 'alice', [TUNNEL_HEADERS.impersonateGroups]: '["dev","ops"]', ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, { endStream: false });
      let text = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => resolve({ status, body: text }));
      req.on('error', reject);
      req.end(body);
    });
}

describe('forwarder: an apiserver that speaks HTTP/2', () => {
  it('sends plain requests over one HTTP/2 connection, with the token and impersonation headers', async () => {
    const api = await h2Apiserver();
    const send = await tunnelTo(api);
    const answers = await Promise.all([send('GET'), send('GET'), send('POST', '{"kind":"Pod"}'), send('GET')]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers[2]!.body).toBe('answered POST {"kind":"Pod"}');
    expect(api.seen.every((s) => s.httpVersion === '2.0')).toBe(true);
    expect(new Set(api.seen.map((s) => s.session)).size).toBe(1);
    const post = api.seen.find((s) => s.method === 'POST')!;
    expect(post.headers).toMatchObject({ authorization: 'Bearer sa-token', 'impersonate-user': 'alice', 'content-length': '14' });
    expect(post.headers['impersonate-group']).toBe('dev, ops');
    expect(post.headers).not.toHaveProperty(TUNNEL_HEADERS.impersonateUser);
  });

  it('opens a new connection after the apiserver closed the pooled one', async () => {
    const api = await h2Apiserver();
    const send = await tunnelTo(api);
    expect((await send('GET')).status).toBe(200);
    const first = api.sessions[0]!;
    first.close(); // GOAWAY, then the connection ends
    await once(first, 'close');
    expect((await send('GET')).status).toBe(200);
    expect(api.sessions.length).toBe(2);
    expect(api.seen[1]!.session).toBe(api.sessions[1]);
  });

  it('sends a GET once more when the connection is cut under it, and answers a POST 502', async () => {
    const api = await h2Apiserver();
    const send = await tunnelTo(api);
    expect((await send('GET')).status).toBe(200);
    // From now on the apiserver drops each connection as soon as a request comes on it.
    let drops = 1;
    api.server.prependListener('stream', (stream) => {
      if (drops-- > 0) stream.session?.destroy();
    });
    expect(await send('GET')).toEqual({ status: 200, body: 'answered GET ' });
    drops = 1;
    const post = await send('POST', 'x');
    expect(post.status).toBe(502);
    expect(post.body).toMatch(/could not reach the apiserver/);
    // Never sent a second time (the one the apiserver got may have been acted on).
    expect(api.seen.filter((s) => s.method === 'POST').length).toBeLessThanOrEqual(1);
  });
});
