import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:https';
import { connect } from 'node:tls';
import forge from 'node-forge';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProxyListener, type ProxyListener } from './proxy-listener.ts';

/** A self-signed serving pair for 127.0.0.1. */
function servingPair(): { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  cert.setSubject([{ name: 'commonName', value: '127.0.0.1' }]);
  cert.setIssuer([{ name: 'commonName', value: '127.0.0.1' }]);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}

function get(port: number, ca: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The first line of the answer to a WebSocket upgrade. */
function upgrade(port: number, ca: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ALPNProtocols: [] }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      text += c;
      if (text.includes('\r\n')) {
        resolve(text.split('\r\n')[0]!);
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

describe('the proxy listener', () => {
  let tls: { cert: string; key: string };
  let listener: ProxyListener | undefined;
  beforeAll(() => {
    tls = servingPair();
  });
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  it('answers 503 and refuses upgrades until the handlers are attached, then hands everything to them', async () => {
    listener = createProxyListener({ tls });
    const port = await listener.listen(0, '127.0.0.1');
    const before = await get(port, tls.cert, '/v1/ping');
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toMatchObject({ error: { code: 'unavailable', message: 'ztshd is starting' } });
    expect(await upgrade(port, tls.cert, '/v1/tunnel')).toBe('HTTP/1.1 503 ServiceUnavailable');

    listener.attach({
      request: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`served ${req.url}`);
      },
      upgrade: (_req, socket) => socket.end('HTTP/1.1 418 Teapot\r\nConnection: close\r\n\r\n'),
    });
    expect(await get(port, tls.cert, '/v1/ping')).toEqual({ status: 200, body: 'served /v1/ping' });
    expect(await upgrade(port, tls.cert, '/v1/tunnel')).toBe('HTTP/1.1 418 Teapot');
  });

  it('takes handlers once', async () => {
    listener = createProxyListener({ tls });
    const handlers = { request: () => undefined, upgrade: () => undefined };
    listener.attach(handlers);
    expect(() => listener!.attach(handlers)).toThrow(/attached already/);
  });

  it('keeps an idle HTTP/1.1 connection for 65 s and says so, on every Node version', async () => {
    listener = createProxyListener({ tls });
    listener.attach({ request: (_req, res) => res.end('ok'), upgrade: (_req, socket) => socket.destroy() });
    const port = await listener.listen(0, '127.0.0.1');
    const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', ca: tls.cert, agent: false, headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['keep-alive'])));
      });
      req.on('error', reject);
      req.end();
    });
    // Clients close idle connections sooner than this, so none reuses one the proxy is closing.
    expect(keepAlive).toBe('timeout=65');
  });
});
