import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTls, type TestTls } from './test-tls.ts';

function connect(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('createTestTls', () => {
  let material: TestTls;
  let server: tls.Server;
  let port: number;

  beforeAll(async () => {
    material = await createTestTls(['ztsh.test', '::1']);
    server = tls.createServer({ cert: material.cert, key: material.key }, (socket) => {
      socket.end('hello');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  it('issues a P-256 leaf for localhost, 127.0.0.1 and the extra names, signed by the CA', () => {
    const ca = new X509Certificate(material.caCert);
    const leaf = new X509Certificate(material.cert);
    expect(ca.subject).toContain('CN=ztsh dev TLS CA');
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(leaf.subjectAltName).toContain('DNS:localhost');
    expect(leaf.subjectAltName).toContain('DNS:ztsh.test');
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(leaf.subjectAltName).toMatch(/IP Address:0:0:0:0:0:0:0:1|IP Address:::1/);
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    expect(leaf.checkPrivateKey(createPrivateKey(material.key))).toBe(true);
    expect(material.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('lets a client that trusts the CA connect to localhost', async () => {
    const socket = await connect(port, { servername: 'localhost', ca: material.caCert });
    expect(socket.authorized).toBe(true);
    socket.destroy();
  });

  it('is rejected by a client that does not trust the CA', async () => {
    await expect(connect(port, { servername: 'localhost' })).rejects.toThrow(/self.signed|unable to (get|verify)/i);
  });

  it('is rejected for a name the certificate does not carry', async () => {
    await expect(connect(port, { servername: 'example.com', ca: material.caCert })).rejects.toThrow(
      /altnames|does not match/i,
    );
  });
});
