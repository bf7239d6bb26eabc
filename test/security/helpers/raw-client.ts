// An attacker's HTTP client: sends the request line, headers and body
// byte for byte over TLS (HTTP/1.1), so no client library can normalize a
// path, fold a header's case or fix an encoding before the server sees it.
import { connect, type TLSSocket } from 'node:tls';
import { DEV_USERS } from '@ztsh/server';
import { httpLogin } from '../../helpers/http-login.ts';

export interface Credentials {
  cert: string;
  key: string;
}

export interface RawRequest {
  method?: string;
  /** Sent as it is on the request line: encodings, dots and case untouched. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** A client certificate; none by default. */
  as?: Credentials | undefined;
  /** Resolve once the status line and headers are in (for streams that never end); the body is what came with them. */
  headersOnly?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json(): any;
}

export interface Target {
  url: URL;
  tlsCa: string;
}

/** Opens a TLS connection to the target with an optional client certificate. */
export function openTls(target: Target, as?: Credentials, alpn?: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: target.url.hostname,
      port: Number(target.url.port),
      servername: target.url.hostname === '127.0.0.1' ? undefined : target.url.hostname,
      ca: target.tlsCa,
      ...(as ? { cert: as.cert, key: as.key } : {}),
      ...(alpn ? { ALPNProtocols: alpn } : {}),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One request on its own connection; resolves once the server has answered and closed, or after the body's length. */
export async function rawRequest(target: Target, request: RawRequest): Promise<RawResponse> {
  const socket = await openTls(target, request.as);
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
  const lines = [`${request.method ?? 'GET'} ${request.path} HTTP/1.1`, `Host: ${target.url.host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`${name}: ${value}`);
  if (body.length > 0 || ['POST', 'PUT', 'PATCH'].includes(request.method ?? 'GET')) lines.push(`Content-Length: ${body.length}`);
  socket.write(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]));
  return readResponse(socket, request.headersOnly || request.method === 'HEAD');
}

function noBody(status: number, headersOnly: boolean): boolean {
  return headersOnly || status === 101 || status === 204 || status === 304;
}

/** Reads one HTTP/1.1 response (Content-Length, chunked, or until close). */
export function readResponse(socket: TLSSocket, headersOnly = false): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      const parsed = parse(buf, true, headersOnly);
      if (!parsed) return reject(new Error(`no HTTP response: ${buf.toString('latin1').slice(0, 200)}`));
      done = true;
      socket.destroy();
      resolve(parsed);
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const parsed = parse(buf, headersOnly, headersOnly);
      if (parsed && !done) {
        done = true;
        socket.destroy();
        resolve(parsed);
      }
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => {
      if (!done && buf.length === 0) {
        done = true;
        reject(err);
      } else finish();
    });
  });
}

function parse(buf: Buffer, atEnd: boolean, headersOnly = false): RawResponse | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const head = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let rest = buf.subarray(headEnd + 4);
  let body: Buffer;
  if (noBody(status, headersOnly)) body = rest;
  else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length < n) return undefined;
    body = rest.subarray(0, n);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) return atEnd ? done(chunks) : undefined;
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return undefined;
      if (size === 0) break;
      if (rest.length < lineEnd + 2 + size + 2) return atEnd ? done(chunks) : undefined;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(chunks);
  } else {
    if (!atEnd) return undefined;
    body = rest;
  }
  const text = body.toString('utf8');
  return { status, headers, body: text, json: () => JSON.parse(text) };

  function done(chunks: Buffer[]): RawResponse {
    const t = Buffer.concat(chunks).toString('utf8');
    return { status, headers, body: t, json: () => JSON.parse(t) };
  }
}

/**
 * Logs a demo user in over HTTP and returns their certificate and key. A
 * TOTP code works once: a second login of the same user in one test file
 * passes `at` in the next 30 s window.
 */
export async function credentialsOf(target: Target, username: 'alice' | 'bob' | 'carol', at = Date.now()): Promise<Credentials> {
  const user = DEV_USERS.find((u) => u.username === username)!;
  const login = await httpLogin(target.url, target.tlsCa, user, at);
  if (login.status !== 200) throw new Error(`login of ${username} failed: ${login.status} ${JSON.stringify(login.json)}`);
  return { cert: login.json.certificate as string, key: login.keys.privateKey };
}
