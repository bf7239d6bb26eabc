// The dev stack's "sandbox" cluster: the kube-apiserver test double with a
// few demo pods, and a real agent that joins with a token and dials the
// proxy, as an agent in a real cluster would.
import type { RunningAgent } from '@ztsh/agent';
import { createTestTls, startKubeDouble, type KubeDouble } from '@ztsh/testkit';
import { startDevAgent, type DevAgentContext } from './dev-agent.ts';

export const SANDBOX_CLUSTER = 'sandbox';
export const SANDBOX_LABELS: Record<string, string> = { env: 'sandbox' };

export interface DevSandbox {
  kube: KubeDouble;
  agent: RunningAgent;
  close(): Promise<void>;
}

export async function startDevSandbox(options: DevAgentContext): Promise<DevSandbox> {
  const tls = await createTestTls();
  const saToken = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
  const kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token: saToken });
  // While someone follows their logs the pods keep writing (a probe, a worker), web-1 answers
  // HTTP on the port it declares and logs, for port-forward, and `exec -- sh` has pwd and uname.
  kube.addPod('default', 'web-1', { logs: ['listening on :8080', 'GET / 200'], httpPort: 8080, liveLog: { lines: ['GET /healthz 200 (kube-probe, check {n})'] } });
  kube.addPod('default', 'api-1', { logs: ['api ready'], liveLog: { lines: ['processed job {n}'] } });
  const agent = await startDevAgent(options, SANDBOX_CLUSTER, SANDBOX_LABELS, { server: kube.url, token: () => saToken, ca: tls.caCert }).catch(async (error: unknown) => {
    await kube.close();
    throw error;
  });
  return {
    kube,
    agent,
    close: async () => {
      await agent.stop();
      await kube.close();
    },
  };
}
