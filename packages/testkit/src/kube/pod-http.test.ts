// The pods' HTTP server takes bytes from whoever port-forwards to it and writes what it saw to
// the pod's log, which `kubectl logs` prints to a terminal: abuse it.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogBook, type LogBook } from './logs.ts';
import { startPodHttp, type PodHttp } from './pod-http.ts';

let logs: LogBook;
let http: PodHttp;
beforeAll(async () => {
  logs = createLogBook();
  http = await startPodHttp(logs);
});
afterAll(() => http?.close());

function logOf(pod: string): string {
  let body = '';
  const res = { writeHead: () => res, write: (c: Buffer) => void (body += c.toString('latin1')), end: () => undefined, on: () => res };
  logs.serve(res as never, 'default', pod, new URLSearchParams());
  return body;
}

async function exchange(socket: Socket, request: Buffer | string): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  socket.write(request);
  // The server ends its side; port-forward sockets are half-open, so ours stays until destroyed.
  await once(socket, 'end');
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

describe('pod HTTP server', () => {
  it('answers a port-forwarded request naming the pod and port, and logs it', async () => {
    const socket = http.connect({ namespace: 'default', pod: 'web-1', port: 8080 });
    const answer = await exchange(socket, 'GET /x?y=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toContain('hello from pod default/web-1, port 8080');
    expect(logOf('web-1')).toBe('GET /x?y=1 200\n');
  });

  it('refuses bytes above 0x7f (a C1 CSI among them) in the target, and writes nothing to the log', async () => {
    const socket = http.connect({ namespace: 'default', pod: 'c1', port: 8080 });
    const target = Buffer.concat([Buffer.from('/a'), Buffer.from([0x9b]), Buffer.from('31m'), Buffer.from([0xc3, 0xa9])]);
    const answer = await exchange(socket, Buffer.concat([Buffer.from('GET '), target, Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(logOf('c1')).toBe('');
  });

  it('cuts a long target to 200 characters in the log', async () => {
    const socket = http.connect({ namespace: 'default', pod: 'long', port: 8080 });
    await exchange(socket, `GET /${'b'.repeat(5000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(logOf('long')).toBe(`GET /${'b'.repeat(199)} 200\n`);
  });

  it('refuses a control character in the request line and writes nothing to the log', async () => {
    const socket = http.connect({ namespace: 'default', pod: 'ctl', port: 8080 });
    const answer = await exchange(socket, 'GET /\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(logOf('ctl')).toBe('');
  });

  it('refuses oversized headers', async () => {
    const socket = http.connect({ namespace: 'default', pod: 'big', port: 8080 });
    const answer = await exchange(socket, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(logOf('big')).toBe('');
  });

  it('answers 421 to a connection that did not come through port-forward', async () => {
    // The listener is on 127.0.0.1: find its port from a port-forward connection.
    const probe = http.connect({ namespace: 'default', pod: 'probe', port: 8080 });
    await once(probe, 'connect');
    const port = probe.remotePort!;
    probe.destroy();
    const stranger = connect({ host: '127.0.0.1', port });
    const answer = await exchange(stranger, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 421 /);
  });
});
