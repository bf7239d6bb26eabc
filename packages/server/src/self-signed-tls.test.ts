import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { SELF_SIGNED_VALIDITY_DAYS, createSelfSignedTls } from './self-signed-tls.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('createSelfSignedTls', () => {
  it('makes an ECDSA P-256 server certificate for the names, localhost and 127.0.0.1, signed by its CA', async () => {
    const now = new Date('2030-01-02T03:04:05Z');
    const made = await createSelfSignedTls({ hostnames: ['access.example.com', '10.1.2.3', '[::1]'], now: () => now });
    const cert = new X509Certificate(made.cert);
    const ca = new X509Certificate(made.caCert);

    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.subjectAltName?.split(', ').sort()).toEqual(['DNS:access.example.com', 'DNS:localhost', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:10.1.2.3', 'IP Address:127.0.0.1'].sort());
    expect(cert.subject).toBe('CN=access.example.com');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.ca).toBe(false);
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(made.key))).toBe(true);
    expect(new Date(cert.validFrom).getTime()).toBe(now.getTime() - 60_000);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + SELF_SIGNED_VALIDITY_DAYS * DAY_MS);
    expect(new Date(ca.validTo).getTime()).toBe(new Date(cert.validTo).getTime());
  });

  it('gives a different key and serial each time', async () => {
    const [a, b] = await Promise.all([createSelfSignedTls({ hostnames: [] }), createSelfSignedTls({ hostnames: [] })]);
    expect(a.key).not.toBe(b.key);
    expect(new X509Certificate(a.cert).serialNumber).not.toBe(new X509Certificate(b.cert).serialNumber);
  });

  it('keeps a hostile hostname out of the subject', async () => {
    const made = await createSelfSignedTls({ hostnames: ['evil,O=Corp'] });
    expect(new X509Certificate(made.cert).subject).toBe('CN=evil_o_corp');
  });

  it('serves TLS that a client trusting only its CA accepts for each name, and refuses for another', async () => {
    const made = await createSelfSignedTls({ hostnames: ['access.example.com'] });
    const server = createServer({ cert: made.cert, key: made.key }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const handshake = (servername: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername, ca: made.caCert }, () => resolve('trusted'));
        socket.on('error', (error: NodeJS.ErrnoException) => reject(error));
        socket.on('secureConnect', () => socket.end());
      });
    try {
      expect(await handshake('access.example.com')).toBe('trusted');
      expect(await handshake('localhost')).toBe('trusted');
      await expect(handshake('other.example.com')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      server.close();
    }
  });
});
