// One part of the path `kubectl get pods` takes, in a process of its own, as
// deployed (see kubectl-command.ts): `apiserver` (the kube-apiserver double),
// `ztshd` (the dev stack: auth + proxy in one process, as ztshd runs by
// default) or `agent` (joined with a token, tunnel to ztshd, forwarding to the
// apiserver; the WebSocket tunnel unless asked for the direct one). Started with child_process.fork; the JSON config is argv[3];
// it sends one `ready` message with what the others need, and stops on
// SIGTERM. The agent may also be asked to hold a tunnel to each of several
// ztshd replicas before it is ready (replicas.ts). The apiserver may be given
// the pod's files to stream (pod-files.ts); ztshd answers questions over IPC
// (`PartQuestion`): turn session recording off or on, and a user's newest
// session, for the exec stream rows.
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startAgent } from '@ztsh/agent';
import { startDevStack } from '@ztsh/server';
import { createTestTls, startKubeDouble } from '@ztsh/testkit';
import { seedPodFiles } from './pod-files.ts';

export type PartReady =
  | { part: 'apiserver'; url: string; caCert: string }
  | { part: 'ztshd'; url: string; tlsCa: string; tlsCaFile: string; dataDir: string }
  | { part: 'agent' };

/** What the bench may ask the ztshd part once it is ready; the answer comes back with the same id. */
export type PartQuestion = { op: 'recording'; on: boolean } | { op: 'lastSession'; user: string };

export interface ApiserverPartConfig {
  saToken: string;
  /** Seed pod default/web-1 with an application log of this many bytes and the small files of a shell session. */
  podLogBytes?: number;
}

export interface AgentPartConfig {
  proxy: string;
  proxyCa: string;
  token: string;
  kubeUrl: string;
  kubeCa: string;
  saToken: string;
  /** Ready once the agent holds a tunnel to this many proxy replicas (default: one tunnel is enough). */
  replicas?: number;
  /** The cluster it serves (default sandbox); its token must be for it. */
  cluster?: string;
  /** How the tunnel is carried (default websocket, the agent's default). */
  transport?: 'websocket' | 'direct';
}

const log = pino({ level: 'silent' });
const part = process.argv[2];
const config = JSON.parse(process.argv[3] ?? '{}') as Record<string, string | number>;
let stop: () => Promise<void>;
let ready: PartReady;

if (part === 'apiserver') {
  const tls = await createTestTls();
  const kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token: String(config.saToken) });
  kube.addPod('default', 'web-1');
  if (config.podLogBytes) seedPodFiles(kube.podFs('default', 'web-1'), Number(config.podLogBytes));
  stop = () => kube.close();
  ready = { part, url: kube.url.origin, caCert: tls.caCert };
} else if (part === 'ztshd') {
  const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-bench-kubectl-'));
  const stack = await startDevStack({ dataDir, port: 0, log });
  stop = () => stack.close();
  process.on('message', (m: PartQuestion & { id: number }) => {
    const answer = async () => {
      if (m.op === 'recording') return stack.ztshd.proxy.setRecording(m.on);
      return (await stack.ztshd.auth.storage.sessions.search({ user: m.user, limit: 1 }))[0];
    };
    void answer().then(
      (result) => process.send!({ id: m.id, result: result ?? null }),
      (error: Error) => process.send!({ id: m.id, error: error.message }),
    );
  });
  ready = { part, url: stack.url.origin, tlsCa: stack.ztshd.tls.selfSignedCa!, tlsCaFile: stack.ztshd.tls.caFile!, dataDir };
} else if (part === 'agent') {
  const c = config as unknown as AgentPartConfig;
  const agent = await startAgent({
    proxy: new URL(c.proxy),
    cluster: c.cluster ?? 'sandbox',
    labels: { env: 'sandbox' },
    stateDir: mkdtempSync(join(tmpdir(), 'ztsh-bench-agent-')),
    token: () => c.token,
    proxyCa: c.proxyCa,
    kube: { server: new URL(c.kubeUrl), token: () => c.saToken, ca: c.kubeCa },
    log,
    transport: c.transport ?? 'websocket',
  });
  await agent.connected();
  const replicas = c.replicas ?? 1;
  if (replicas > 1) await agent.whenReplicas((s) => s.held.length === replicas && s.wanted?.length === replicas);
  stop = () => agent.stop();
  ready = { part };
} else {
  throw new Error(`unknown part ${part}: apiserver, ztshd or agent`);
}

process.on('SIGTERM', () => {
  void stop().finally(() => process.exit(0));
});
process.send!(ready);
