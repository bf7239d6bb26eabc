// The one cluster the dev stack serves behind an agent: the kubeconfig's
// current context when it is usable (an apiserver on this machine or a local
// VM, credentials an agent can hold, and GET /version answers 200), else the
// sandbox test double. The reason the context was not used is kept, to print.
import { delimiter } from 'node:path';
import type { RunningAgent } from '@ztsh/agent';
import { startDevAgent, type DevAgentContext } from './dev-agent.ts';
import { SANDBOX_CLUSTER, SANDBOX_LABELS, startDevSandbox, type DevSandbox } from './dev-sandbox.ts';
import { probeApiserver } from './kube-probe.ts';
import { kubeconfigPaths, loadKubeconfig } from './kubeconfig.ts';
import { resolveKubeContext, type KubeContextTarget } from './kubeconfig-context.ts';
import { hostLocality } from './local-address.ts';

export const KUBECONFIG_LABELS: Record<string, string> = { env: 'dev', source: 'kubeconfig' };

export type DevClusterSource =
  | { kind: 'sandbox' }
  | { kind: 'kubeconfig'; context: string; server: URL; credentials: KubeContextTarget['credentials']; version?: string | undefined };

export interface DevCluster {
  name: string;
  labels: Record<string, string>;
  source: DevClusterSource;
  agent: RunningAgent;
  /** Set when the cluster is the sandbox. */
  sandbox?: DevSandbox | undefined;
  close(): Promise<void>;
}

export interface DevClusterOptions extends DevAgentContext {
  /** Where KUBECONFIG and HOME are read. */
  env: Record<string, string | undefined>;
  /** Try the kubeconfig first. */
  kubeconfig: boolean;
  /** A context to serve instead of the current one; it may point anywhere, not only at a local apiserver. */
  kubeContext?: string | undefined;
  /** Run the sandbox when no kubeconfig context is served. */
  sandbox: boolean;
  probeTimeoutMs?: number;
}

export interface DevClusterChoice {
  cluster?: DevCluster | undefined;
  /** Why no kubeconfig context is served (unset when one is, or when the kubeconfig was not looked at). */
  kubeconfigNotUsed?: string | undefined;
}

export async function startDevCluster(options: DevClusterOptions): Promise<DevClusterChoice> {
  let kubeconfigNotUsed: string | undefined;
  if (options.kubeconfig) {
    const found = await usableKubeContext(options);
    if (found.ok) {
      const { target } = found;
      const agent = await startDevAgent(options, target.cluster, KUBECONFIG_LABELS, target.kube);
      const source: DevClusterSource = { kind: 'kubeconfig', context: target.context, server: target.kube.server, credentials: target.credentials, version: found.version };
      return { cluster: { name: target.cluster, labels: KUBECONFIG_LABELS, source, agent, close: () => agent.stop() } };
    }
    kubeconfigNotUsed = found.reason;
  }
  if (!options.sandbox) return { kubeconfigNotUsed };
  const sandbox = await startDevSandbox(options);
  return {
    cluster: { name: SANDBOX_CLUSTER, labels: SANDBOX_LABELS, source: { kind: 'sandbox' }, agent: sandbox.agent, sandbox, close: sandbox.close },
    kubeconfigNotUsed,
  };
}

export type UsableKubeContext = { ok: true; target: KubeContextTarget; version?: string | undefined } | { ok: false; reason: string };

export async function usableKubeContext(options: Pick<DevClusterOptions, 'env' | 'kubeContext' | 'proxyUrl' | 'probeTimeoutMs'>): Promise<UsableKubeContext> {
  const paths = kubeconfigPaths(options.env);
  if (paths.length === 0) return { ok: false, reason: 'no kubeconfig: neither KUBECONFIG nor HOME is set' };
  let resolved;
  try {
    const config = loadKubeconfig(paths);
    if (config.files.length === 0) return { ok: false, reason: `no kubeconfig at ${paths.join(delimiter)}` };
    resolved = resolveKubeContext(config, { context: options.kubeContext, ownProxy: options.proxyUrl });
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  if (!resolved.ok) return resolved;
  const { target } = resolved;
  const server = target.kube.server;
  if (options.kubeContext === undefined) {
    const locality = await hostLocality(server.hostname);
    if (locality === 'unresolved') return { ok: false, reason: `context "${target.context}": server ${server.host} does not resolve` };
    if (locality === 'remote') {
      return { ok: false, reason: `context "${target.context}": server ${server.host} is not on this machine or a private network; to serve it anyway, pass --kube-context ${target.context}` };
    }
  }
  const probe = await probeApiserver(target.kube, options.probeTimeoutMs);
  if (!probe.ok) return { ok: false, reason: `context "${target.context}": ${probe.reason}` };
  return { ok: true, target, version: probe.version };
}
