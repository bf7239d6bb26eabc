// Errors in the dialect kubectl understands: a meta/v1 Status object with
// the right HTTP code, for plain and HTTP/2 responses and for raw sockets of
// refused upgrades.
import type { Duplex } from 'node:stream';

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
};

export function kubeStatus(code: number, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'InternalError', code };
}

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
    `HTTP/1.1 ${code} ${REASONS[code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
