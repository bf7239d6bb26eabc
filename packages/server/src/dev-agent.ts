// An agent inside the dev stack: it joins with a fresh one-use token, as
// `ztshd agent` does with one from `ztshd tokens add`, and dials the proxy.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startAgent, type KubeTarget, type RunningAgent } from '@ztsh/agent';
import { createJoinToken } from '@ztsh/auth';

export interface DevAgentContext {
  /** Where the join token is made: the auth service in this process, or the store replicas share. */
  auth: { deps: Parameters<typeof createJoinToken>[0] };
  proxyUrl: URL;
  proxyCa: string;
  dataDir: string;
  log: Logger;
}

/** Resolves once the agent's tunnel is up. */
export async function startDevAgent(context: DevAgentContext, cluster: string, labels: Record<string, string>, kube: KubeTarget): Promise<RunningAgent> {
  const { token } = await createJoinToken(context.auth.deps, { type: 'agent', cluster, ttlMs: 10 * 60_000, uses: 1 });
  const agent = await startAgent({
    proxy: context.proxyUrl,
    cluster,
    labels,
    stateDir: join(context.dataDir, `agent-${cluster}`),
    token: () => token,
    proxyCa: context.proxyCa,
    kube,
    log: context.log,
  });
  await agent.connected();
  return agent;
}
