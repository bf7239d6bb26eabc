// The agent's configuration: where the proxy is, which cluster it serves
// and with what labels, its join token, and how to reach the apiserver
// (in-cluster service account, or explicit server with a token and/or a
// client certificate).
import { readFileSync, statSync } from 'node:fs';
import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import { z } from 'zod';
import { ClusterName, ListenAddress, TUNNEL_TRANSPORTS, ZtshError } from '@ztsh/protocol';

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
  /** How the tunnel is carried: direct (HTTP/2 on the TLS connection), websocket (for load balancers that pass only WebSockets), or auto: direct, falling back to websocket where the path refuses it. websocket is the default until direct has been measured and fuzzed as long as the WebSocket path. */
  tunnel: z.enum(TUNNEL_TRANSPORTS).default('websocket'),
  /** The operations listener (plain HTTP: /metrics, /healthz, /readyz); off unless set. */
  metrics: z.strictObject({ listen: ListenAddress }).optional(),
  kube: z.union([
    z.strictObject({ in_cluster: z.literal(true) }),
    z.strictObject({
      server: z.url(),
      token: z.string().optional(),
      token_file: z.string().optional(),
      ca_file: z.string().optional(),
      client_certificate_file: z.string().optional(),
      client_key_file: z.string().optional(),
    }),
  ]),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** How the agent reaches the apiserver: a bearer token, a client certificate, or both. */
export interface KubeTarget {
  server: URL;
  /** Read again from its file every TOKEN_FILE_TTL_MS: service-account tokens rotate on disk. */
  token?: (() => string) | undefined;
  /** PEM of the CA that signed the apiserver's certificate; default: the system's roots. */
  ca?: string | undefined;
  /** PEM client certificate and key presented to the apiserver. */
  clientCert?: { cert: string; key: string } | undefined;
  /** Accepts any apiserver certificate. Only for a kubeconfig that asks for it (insecure-skip-tls-verify). */
  insecureSkipTlsVerify?: boolean | undefined;
}

/** TLS options for connections to the apiserver. */
export function kubeTls(target: KubeTarget): Pick<HttpsAgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'> {
  return {
    ...(target.ca && !target.insecureSkipTlsVerify ? { ca: target.ca } : {}),
    ...(target.clientCert ? { cert: target.clientCert.cert, key: target.clientCert.key } : {}),
    ...(target.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
  };
}

/** The Authorization header for the apiserver, when the target has a token. */
export function kubeAuthorization(target: KubeTarget): string | undefined {
  return target.token ? `Bearer ${target.token()}` : undefined;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * How often a token file is looked at (one stat) to see whether it changed.
 * Service-account tokens are rotated on disk (the kubelet swaps a symlink),
 * so the file is read again as soon as its inode, size or mtime change, and
 * a busy agent makes at most one stat a second instead of a read a request.
 */
export const TOKEN_FILE_CHECK_MS = 1_000;

export function kubeTarget(config: AgentConfig, env: Record<string, string | undefined>, now: () => number = Date.now): KubeTarget {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (cause) {
      throw new ZtshError('invalid_config', `cannot read ${what} ${path}`, { cause });
    }
  };
  const readFresh = (path: string, what: string) => {
    let value = '';
    let version = '';
    let checkedAt = -Infinity;
    return () => {
      if (now() - checkedAt < TOKEN_FILE_CHECK_MS) return value;
      let seen: string;
      try {
        const st = statSync(path, { bigint: true });
        seen = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch (cause) {
        throw new ZtshError('invalid_config', `cannot read ${what} ${path}`, { cause });
      }
      if (seen !== version) {
        value = read(path, what);
        version = seen;
      }
      checkedAt = now();
      return value;
    };
  };
  if ('in_cluster' in config.kube) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) throw new ZtshError('invalid_config', 'kube.in_cluster is set but KUBERNETES_SERVICE_HOST is not: is the agent running in a pod?');
    return { server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`), token: readFresh(`${SA_DIR}/token`, 'service-account token'), ca: read(`${SA_DIR}/ca.crt`, 'service-account CA') };
  }
  const kube = config.kube;
  const { token, token_file: tokenFile, client_certificate_file: certFile, client_key_file: keyFile } = kube;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ZtshError('invalid_config', `kube: ${certFile ? 'client_certificate_file needs client_key_file' : 'client_key_file needs client_certificate_file'}`);
  }
  if (!token && !tokenFile && !certFile) {
    throw new ZtshError('invalid_config', 'kube: give token, token_file, or client_certificate_file with client_key_file (or in_cluster: true)');
  }
  if (!kube.server.startsWith('https://')) throw new ZtshError('invalid_config', 'kube.server: must be an https:// URL');
  return {
    server: new URL(kube.server),
    token: token ? () => token : tokenFile ? readFresh(tokenFile, 'kube token file') : undefined,
    ca: kube.ca_file ? read(kube.ca_file, 'kube CA file') : undefined,
    clientCert: certFile && keyFile ? { cert: read(certFile, 'kube client certificate'), key: read(keyFile, 'kube client key') } : undefined,
  };
}
