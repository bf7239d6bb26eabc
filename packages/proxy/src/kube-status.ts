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

/**
 * Discovery (/api, /apis and their group and version lists) is the first
 * thing kubectl asks, and its discovery client prints a JSON Status it gets
 * there as "unknown"; a text/plain body it prints, but only for a 403 or a
 * 5xx other than 503 and 504 (client-go puts fixed words in place of the
 * server's for the rest). A refusal of discovery is sent as text, and a 503
 * (an agent that is not connected) as the 502 it also is, so the user reads
 * why. A certificate refused there (401: expired, missing, not ours) goes as
 * a 403: for a 401 client-go prints only "You must be logged in to the server
 * (the server has asked for the client to provide credentials)", and kubectl
 * with the certificate file (no plugin to refuse first) asks discovery first
 * whenever its cache is older than the certificate. The audit record and the
 * metrics keep the 401.
 */
const DISCOVERY = /^\/k8s\/[^/?]+\/(api(\/[^/?]+)?|apis(\/[^/?]+){0,2})(\?|$)/;

export function sendRefusal(res: ResponseLike, code: number, message: string, url: string): void {
  if (res.headersSent || !DISCOVERY.test(url)) return sendStatus(res, code, message);
  res.writeHead(code === 503 ? 502 : code === 401 ? 403 : code, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(message);
}

/** Answers a refused upgrade on the raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, code: number, message: string): void {
  const body = JSON.stringify(kubeStatus(code, message));
  socket.end(
    `HTTP/1.1 ${code} ${kubeStatusReason(code)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
