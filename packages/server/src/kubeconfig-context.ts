// One context of a merged kubeconfig, turned into what an agent needs to reach
// that apiserver: the server, its CA, and a token and/or a client certificate.
// Exec plugins, auth providers and passwords cannot be handed to an agent;
// such a context is "not usable", with the reason in words.
import { readFileSync } from 'node:fs';
import type { KubeTarget } from '@ztsh/agent';
import type { Kubeconfig, KubeUser } from './kubeconfig.ts';

export interface KubeContextTarget {
  /** The kubeconfig context. */
  context: string;
  /** The ztsh cluster name it is served as. */
  cluster: string;
  kube: KubeTarget;
  /** How the agent signs in to the apiserver, for messages. */
  credentials: 'token' | 'client certificate' | 'client certificate and token';
}

export type KubeContextResult = { ok: true; target: KubeContextTarget } | { ok: false; reason: string };

class Unusable extends Error {}

/** A valid ztsh cluster name for a context name: "Kind-Kind" → "kind-kind", "admin@k8s" → "admin-k8s". */
export function clusterNameFor(context: string): string {
  const name = context
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name || 'kubeconfig';
}

/**
 * Resolves `options.context`, else the current context. A context that goes
 * through `ownProxy` (one `ztsh kube login` wrote for this dev stack) stands
 * for the context the stack served under that cluster name: that one is used.
 */
export function resolveKubeContext(config: Kubeconfig, options: { context?: string | undefined; ownProxy?: URL | undefined } = {}): KubeContextResult {
  const name = options.context ?? config.currentContext;
  if (!name) return { ok: false, reason: `the kubeconfig (${config.files.join(', ')}) has no current context` };
  try {
    const through = options.ownProxy && servedBy(config, name, options.ownProxy);
    if (through === undefined || !options.ownProxy) return { ok: true, target: contextTarget(config, name) };
    const proxy = options.ownProxy;
    const real = [...config.contexts.keys()].find((c) => clusterNameFor(c) === through && servedBy(config, c, proxy) === undefined);
    if (!real) return { ok: false, reason: `context "${name}" goes through this dev stack itself` };
    return { ok: true, target: contextTarget(config, real) };
  } catch (error) {
    if (error instanceof Unusable) return { ok: false, reason: error.message };
    throw error;
  }
}

/** The ztsh cluster name, when the context's server is `<ownProxy>/k8s/<cluster>`. */
function servedBy(config: Kubeconfig, context: string, ownProxy: URL): string | undefined {
  const cluster = config.clusters.get(config.contexts.get(context)?.cluster ?? '');
  if (!cluster?.server || !URL.canParse(cluster.server)) return undefined;
  const server = new URL(cluster.server);
  if (server.origin !== ownProxy.origin) return undefined;
  return /^\/k8s\/([^/]+)\/?$/.exec(server.pathname)?.[1];
}

function contextTarget(config: Kubeconfig, name: string): KubeContextTarget {
  const context = config.contexts.get(name);
  if (!context) throw new Unusable(`context "${name}" is not in the kubeconfig`);
  if (!context.cluster) throw new Unusable(`context "${name}" names no cluster`);
  const cluster = config.clusters.get(context.cluster);
  if (!cluster) throw new Unusable(`context "${name}": cluster "${context.cluster}" is not in the kubeconfig`);
  const where = `context "${name}": cluster "${context.cluster}"`;
  if (!cluster.server) throw new Unusable(`${where} has no server`);
  if (!URL.canParse(cluster.server)) throw new Unusable(`${where}: server ${cluster.server} is not a URL`);
  const server = new URL(cluster.server);
  if (server.protocol !== 'https:') throw new Unusable(`${where}: server ${cluster.server} is not https`);
  if (server.pathname !== '/') throw new Unusable(`${where}: server ${cluster.server} has a path, which the agent does not support`);
  if (cluster['proxy-url']) throw new Unusable(`${where} is reached through proxy-url ${cluster['proxy-url']}, which the agent does not support`);
  const caFile = cluster['certificate-authority'];
  const caData = cluster['certificate-authority-data'];
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  // kubectl refuses this combination too.
  if (insecure && (caFile || caData)) throw new Unusable(`${where} sets both insecure-skip-tls-verify and a certificate authority`);
  if (!context.user) throw new Unusable(`context "${name}" names no user, so it has no credentials`);
  const user = config.users.get(context.user);
  if (!user) throw new Unusable(`context "${name}": user "${context.user}" is not in the kubeconfig`);
  const { token, clientCert } = userCredentials(`user "${context.user}"`, user);
  return {
    context: name,
    cluster: clusterNameFor(name),
    kube: {
      server,
      token: token === undefined ? undefined : () => token,
      ca: caData ? decode(caData) : caFile ? read(caFile, `${where}: certificate-authority`) : undefined,
      clientCert,
      insecureSkipTlsVerify: insecure || undefined,
    },
    credentials: clientCert ? (token === undefined ? 'client certificate' : 'client certificate and token') : 'token',
  };
}

function userCredentials(who: string, user: KubeUser): { token?: string | undefined; clientCert?: { cert: string; key: string } | undefined } {
  if (user.exec) throw new Unusable(`${who} gets its credentials from an exec plugin (${user.exec.command ?? 'no command'}), which the dev stack cannot hand to an agent`);
  if (user['auth-provider']) throw new Unusable(`${who} gets its credentials from the auth provider "${user['auth-provider'].name ?? ''}", which the dev stack cannot hand to an agent`);
  const token = user.token || (user.tokenFile ? read(user.tokenFile, `${who}: tokenFile`) : undefined);
  const cert = user['client-certificate-data'] ? decode(user['client-certificate-data']) : user['client-certificate'] ? read(user['client-certificate'], `${who}: client-certificate`) : undefined;
  const key = user['client-key-data'] ? decode(user['client-key-data']) : user['client-key'] ? read(user['client-key'], `${who}: client-key`) : undefined;
  if (cert && !key) throw new Unusable(`${who} has a client certificate but no client key`);
  if (key && !cert) throw new Unusable(`${who} has a client key but no client certificate`);
  if (!token && !cert) {
    throw new Unusable(user.username || user.password ? `${who} signs in with a password, which the agent does not support` : `${who} has no token or client certificate`);
  }
  return { token: token || undefined, clientCert: cert && key ? { cert, key } : undefined };
}

function decode(base64: string): string {
  return Buffer.from(base64, 'base64').toString('utf8');
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new Unusable(`${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
