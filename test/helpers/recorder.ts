// A TLS forwarder that records every request body a client sends on its way
// to ztshd: tests assert on exactly what crossed the wire.
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Recorder {
  url: URL;
  bodies: { method: string; path: string; body: string }[];
  close(): Promise<void>;
}

export async function startRecorder(target: URL, tls: { cert: string; key: string; ca: string }): Promise<Recorder> {
  const bodies: Recorder['bodies'] = [];
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push({ method: req.method!, path: req.url!, body: body.toString('utf8') });
      const upstream = request(
        { host: '127.0.0.1', port: target.port, servername: target.hostname, path: req.url, method: req.method, headers: req.headers, ca: tls.ca },
        (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: new URL(`https://localhost:${(server.address() as AddressInfo).port}`),
    bodies,
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
