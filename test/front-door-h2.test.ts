// The kube front door under HTTP/2, as kubectl speaks it: the client
// certificate is checked once per connection, however many requests it
// carries (Node's compatibility API gives each request a socket object of
// its own), and a watch gets its headers at once, before any event.
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { connect, type ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
}, 120_000);
afterAll(() => k?.close());

function open(): ClientHttp2Session {
  return connect(k.stack.url.origin, { ca: k.stack.tlsCa, cert: k.alice.cert, key: k.alice.key });
}

function get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
  });
}

describe('front door over HTTP/2', () => {
  it('checks the client certificate once per connection, not once per request', async () => {
    const session = open();
    try {
      // Counted where the chain check is made: the signature of the client's certificate.
      const verify = vi.spyOn(X509Certificate.prototype, 'verify');
      try {
        const answers = await Promise.all(Array.from({ length: 20 }, () => get(session, '/k8s/sandbox/api/v1/namespaces/default/pods/web-1')));
        expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
        for (let i = 0; i < 10; i++) expect((await get(session, '/k8s/sandbox/api/v1/namespaces/default/pods/web-1')).status).toBe(200);
        expect(verify.mock.calls.length).toBe(1);
        // A second connection is a second check.
        const other = open();
        try {
          expect((await get(other, '/k8s/sandbox/api/v1/namespaces/default/pods/web-1')).status).toBe(200);
        } finally {
          other.close();
        }
        expect(verify.mock.calls.length).toBe(2);
      } finally {
        verify.mockRestore();
      }
    } finally {
      session.close();
    }
  });

  it('sends a watch\'s headers at once, before its first event', async () => {
    const session = open();
    try {
      const list = JSON.parse((await get(session, '/k8s/sandbox/api/v1/namespaces/quiet/pods')).body) as { metadata: { resourceVersion: string } };
      const req = session.request({ ':path': `/k8s/sandbox/api/v1/namespaces/quiet/pods?watch=true&resourceVersion=${list.metadata.resourceVersion}` });
      let bytes = 0;
      req.on('data', (d: Buffer) => (bytes += d.length));
      // Nothing changes in the namespace: only headers sent early arrive.
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        req.on('response', resolve);
        req.on('error', reject);
      });
      expect(headers[':status']).toBe(200);
      expect(bytes).toBe(0);
      // The first event arrives on the same stream once something happens.
      const event = new Promise<string>((resolve) => req.once('data', (d: Buffer) => resolve(d.toString())));
      k.kube.addPod('quiet', 'late-1');
      expect(JSON.parse((await event).split('\n')[0]!)).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'late-1' } } });
      req.close();
    } finally {
      session.close();
    }
  });
});
