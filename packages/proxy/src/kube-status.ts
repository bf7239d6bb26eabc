// Errors in the dialect kubectl understands: a meta/v1 Status object with
// the right HTTP code, for plain and HTTP/2 responses and for raw sockets of
// refused upgrades.
import type { Duplex } from 'node:stream';
import { kubeStatus, kubeStatusReason } from '@ztsh/protocol';

interface ResponseLike {
  headersSent: boolean;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

export function sendStatus(res: ResponseLike, code: number, message: string): void {
  if (res.headersSent) {
    res.end('');
    return;
  }
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(kubeStatus(code, message)));
}

/** Answers a refused upgrade on the raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, code: number, message: string): void {
  const body = JSON.stringify(kubeStatus(code, message));
  socket.end(
    `HTTP/1.1 ${code} ${kubeStatusReason(code)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
