// An agent that lies: joins a cluster with a real join token and host
// certificate (as ztsh-agent does), then opens /v1/tunnel itself and sends
// whatever bytes a test chooses instead of HTTP/2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { ensureHostIdentity } from '@ztsh/agent';
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
