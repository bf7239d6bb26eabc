// The agent's configuration: where the proxy is, which cluster it serves
// and with what labels, its join token, and how to reach the apiserver
// (in-cluster service account, or explicit server + token).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ClusterName, ZtshError } from '@ztsh/protocol';

export const AgentConfigSchema = z.strictObject({
  proxy: z.url().refine((u) => u.startsWith('https://'), 'must be an https:// URL'),
  cluster: ClusterName,
  labels: z.record(z.string().max(63), z.string().max(63)).default({}),
  /** Join token, used once to get the host certificate. */
  token: z.string().optional(),
  token_file: z.string().optional(),
  /** CA of the proxy's TLS certificate, when it is not publicly trusted. */
  proxy_ca_file: z.string().optional(),
  /** Where the agent keeps its key and host certificate. */
  state_dir: z.string(),
  kube: z.union([
    z.strictObject({ in_cluster: z.literal(true) }),
    z.strictObject({ server: z.url(), token: z.string().optional(), token_file: z.string().optional(), ca_file: z.string().optional() }),
  ]),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

export interface KubeTarget {
  server: URL;
  /** Read again for each request: service-account tokens rotate on disk. */
  token: () => string;
  ca?: string | undefined;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function kubeTarget(config: AgentConfig, env: Record<string, string | undefined>): KubeTarget {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (cause) {
      throw new ZtshError('invalid_config', `cannot read ${what} ${path}`, { cause });
    }
  };
  if ('in_cluster' in config.kube) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) throw new ZtshError('invalid_config', 'kube.in_cluster is set but KUBERNETES_SERVICE_HOST is not: is the agent running in a pod?');
    return { server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`), token: () => read(`${SA_DIR}/token`, 'service-account token'), ca: read(`${SA_DIR}/ca.crt`, 'service-account CA') };
  }
  const kube = config.kube;
  const token = kube.token;
  const tokenFile = kube.token_file;
  if (!token && !tokenFile) throw new ZtshError('invalid_config', 'kube: give token or token_file (or in_cluster: true)');
  return {
    server: new URL(kube.server),
    token: token ? () => token : () => read(tokenFile!, 'kube token file'),
    ca: kube.ca_file ? read(kube.ca_file, 'kube CA file') : undefined,
  };
}
