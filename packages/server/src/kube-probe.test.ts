import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTls, type TestTls } from '@ztsh/testkit';
import { probeApiserver } from './kube-probe.ts';

let serverTls: TestTls;
let clientTls: TestTls;
let server: Server;
let url: URL;
const sockets = new Set<Socket>();

beforeAll(async () => {
  serverTls = await createTestTls();
  // Any certificate will do as the client's: the server below compares fingerprints.
  clientTls = await createTestTls();
  const clientFingerprint = new X509Certificate(clientTls.cert).fingerprint256;
  server = createServer({ cert: serverTls.cert, key: serverTls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const byCert = peer?.fingerprint256 === clientFingerprint;
    const byToken = req.headers.authorization === 'Bearer good';
    if (req.url !== '/version' || !(byCert || byToken)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ major: '1', minor: '33', gitVersion: 'v1.33.1' }));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

describe('probeApiserver', () => {
  it('answers ok with the version when GET /version is 200 with a token', async () => {
    expect(await probeApiserver({ server: url, ca: serverTls.caCert, token: () => 'good' })).toEqual({ ok: true, version: 'v1.33.1' });
  });

  it('presents the client certificate', async () => {
    expect(await probeApiserver({ server: url, ca: serverTls.caCert, clientCert: { cert: clientTls.cert, key: clientTls.key } })).toEqual({ ok: true, version: 'v1.33.1' });
  });

  it('says what the apiserver answered to bad credentials', async () => {
    expect(await probeApiserver({ server: url, ca: serverTls.caCert, token: () => 'bad' })).toEqual({ ok: false, reason: `GET ${url}version answered 401 with these credentials` });
  });

  it('checks the server certificate unless told to skip the check', async () => {
    const other = await createTestTls();
    const refused = await probeApiserver({ server: url, ca: other.caCert, token: () => 'good' });
    // Node 24 adds a hint about --use-system-ca to the same message.
    expect(refused).toEqual({ ok: false, reason: expect.stringMatching(new RegExp(`^GET ${url}version failed: unable to verify the first certificate`)) });
    expect(await probeApiserver({ server: url, insecureSkipTlsVerify: true, token: () => 'good' })).toMatchObject({ ok: true });
  });

  it('gives up after the deadline', async () => {
    // Takes the request and never answers.
    const silent = createServer({ cert: serverTls.cert, key: serverTls.key }, () => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const at = new URL(`https://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    try {
      expect(await probeApiserver({ server: at, ca: serverTls.caCert, token: () => 'good' }, 150)).toEqual({ ok: false, reason: `GET ${at}version got no answer within 0.15 s` });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('says when the connection fails', async () => {
    const rude = createNetServer((socket) => socket.destroy());
    rude.listen(0, '127.0.0.1');
    await once(rude, 'listening');
    const at = new URL(`https://127.0.0.1:${(rude.address() as AddressInfo).port}`);
    try {
      const result = await probeApiserver({ server: at, token: () => 'good' });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toBe(`GET ${at}version failed: Client network socket disconnected before secure TLS connection was established`);
    } finally {
      rude.close();
    }
  });
});
