// An agent that lies: joins a cluster with a real join token and host
// certificate (as ztsh-agent does), then opens /v1/tunnel itself and sends
// whatever bytes a test chooses instead of HTTP/2, on a WebSocket or on the
// direct transport's upgraded TLS socket.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import { ensureHostIdentity } from '@ztsh/agent';
import { TUNNEL_UPGRADE } from '@ztsh/protocol';
import { openTls } from './raw-client.ts';
import type { KubeEnv } from '../../helpers/kube-env.ts';
import { ZTSHD } from '../../helpers/source-bins.ts';

type HostIdentity = Awaited<ReturnType<typeof ensureHostIdentity>>;


/** Joins `cluster` with a fresh agent join token; returns the host key and certificate. */
export async function joinRogueAgent(k: KubeEnv, cluster: string): Promise<HostIdentity> {
  const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', cluster, '--data-dir', k.stack.dataDir, '--format', 'json'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`ztshd tokens add failed: ${made.stderr}`);
  const token = (JSON.parse(made.stdout) as { token: string }).token;
  return ensureHostIdentity({ proxy: k.stack.url, cluster, stateDir: mkdtempSync(join(tmpdir(), 'ztsh-rogue-')), token: () => token, proxyCa: k.stack.tlsCa, now: () => new Date() });
}

export interface RogueTunnel {
  ws: WebSocket;
  /** Resolves with the close code once the proxy (or we) closed the tunnel. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens the tunnel with the host certificate; resolves once the proxy has accepted it. */
export function openRogueTunnel(k: KubeEnv, identity: HostIdentity, labels: Record<string, string>, options: { maxPayload?: number } = {}): Promise<RogueTunnel> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(new URL('/v1/tunnel', k.stack.url.toString().replace(/^http/, 'ws')), {
      cert: identity.cert,
      key: identity.key,
      ca: k.stack.tlsCa,
      headers: { 'x-ztsh-labels': JSON.stringify(labels) },
      perMessageDeflate: false,
      ...(options.maxPayload ? { maxPayload: options.maxPayload } : {}),
    });
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.once('close', (code, reason) => done({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`the proxy refused the tunnel: ${res.statusCode}`)));
    ws.once('open', () => resolve({ ws, closed }));
  });
}

export interface RogueDirectTunnel {
  /** The TLS socket after the proxy's 101: whatever is written goes where HTTP/2 is expected. */
  socket: TLSSocket;
  /** Resolves once the proxy closed the connection. */
  closed: Promise<void>;
}

/**
 * Sends the direct tunnel's upgrade (`extra` right behind the request, in the same write) and
 * resolves with the status line's code, and with the socket once it is 101.
 */
export async function openRogueDirect(k: KubeEnv, identity: HostIdentity | undefined, labels: Record<string, string>, extra: Buffer = Buffer.alloc(0)): Promise<{ status: number; tunnel?: RogueDirectTunnel }> {
  const socket = await openTls(k.stack, identity ? { cert: identity.cert, key: identity.key } : undefined);
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  socket.on('error', () => undefined);
  socket.write(Buffer.concat([
    Buffer.from(`GET /v1/tunnel HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_UPGRADE}\r\nx-ztsh-labels: ${JSON.stringify(labels)}\r\n\r\n`),
    extra,
  ]));
  // Read the answer's head byte by byte from what arrives; nothing past it is taken.
  let seen = Buffer.alloc(0);
  const head = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      if (seen.length > end + 4) socket.unshift(seen.subarray(end + 4));
      resolve(seen.subarray(0, end).toString('latin1'));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`the proxy closed the connection; it sent ${JSON.stringify(seen.toString('latin1'))}`)));
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  // What the proxy sends from here on is read and dropped, so its end of the connection is seen.
  socket.resume();
  return status === 101 ? { status, tunnel: { socket, closed } } : { status };
}
