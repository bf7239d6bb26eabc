// The dev stack's "sandbox" cluster: the kube-apiserver test double with a
// few demo pods, and a real agent that joins with a token and dials the
// proxy, as an agent in a real cluster would.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startAgent, type RunningAgent } from '@ztsh/agent';
import { createJoinToken, type AuthService } from '@ztsh/auth';
import { createTestTls, startKubeDouble, type KubeDouble } from '@ztsh/testkit';

export interface DevSandbox {
  kube: KubeDouble;
  agent: RunningAgent;
  close(): Promise<void>;
}

export async function startDevSandbox(options: { auth: AuthService; proxyUrl: URL; proxyCa: string; dataDir: string; log: Logger }): Promise<DevSandbox> {
  const tls = await createTestTls();
  const saToken = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
  const kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token: saToken });
  kube.addPod('default', 'web-1', { logs: ['listening on :8080', 'GET / 200'] });
  kube.addPod('default', 'api-1', { logs: ['api ready'] });
  const { token } = createJoinToken(options.auth.deps, { type: 'agent', cluster: 'sandbox', ttlMs: 10 * 60_000, uses: 1 });
  const agent = await startAgent({
    proxy: options.proxyUrl,
    cluster: 'sandbox',
    labels: { env: 'sandbox' },
    stateDir: join(options.dataDir, 'agent-sandbox'),
    token: () => token,
    proxyCa: options.proxyCa,
    kube: { server: kube.url, token: () => saToken, ca: tls.caCert },
    log: options.log,
  });
  await agent.connected();
  return {
    kube,
    agent,
    close: async () => {
      await agent.stop();
      await kube.close();
    },
  };
}
