// What `ztshd dev` prints once the stack is up: where everything is, the demo
// users, which cluster is served (and why not the kubeconfig's, if not), and
// the next steps, naming the cluster that actually runs.
import type { DevCluster } from './dev-cluster.ts';
import type { DevStack, DevUser } from './dev-stack.ts';

export interface DevBannerInput {
  stack: Pick<DevStack, 'url' | 'idp' | 'cluster' | 'kubeconfigNotUsed'> & { split?: { auth: { url: URL } } | undefined };
  users: DevUser[];
  dataDir: string;
  tlsCaFile: string;
  trustFile: string;
  /** The address the stack listens on: a warning is added when it is not loopback and a real cluster is served. */
  host: string;
  sandboxOnly: boolean;
  /** Set for `ztshd dev --replicas N --postgres URL`: the front, the replicas and the store they share. */
  replicas?: DevBannerReplicas | undefined;
}

export interface DevBannerReplicas {
  frontPid: number;
  list: { name: string; pid: number; host: string; port: number; up: boolean }[];
  /** The database URL (it never holds a password). */
  store: string;
  /** Where each replica's ztsh.yaml, ztshd.log and ztshd.pid are. */
  dir: string;
}

export function devBanner(input: DevBannerInput): string {
  const { stack } = input;
  const proxy = stack.url.origin;
  const cluster = stack.cluster;
  const rows = input.users.map((u) => `  ${u.username.padEnd(6)} ${u.password.padEnd(20)} ${u.groups.join(',').padEnd(11)} ${u.totpSecret ?? '(enrolls at first login)'}`);
  const real = cluster?.source.kind === 'kubeconfig' ? cluster.source : undefined;
  return [
    '',
    'ztsh dev stack is up',
    ...(stack.split
      ? [`  proxy           ${proxy}`, `  auth (apart)    ${stack.split.auth.url.origin} (proxies only; its data in ${input.dataDir}/auth)`]
      : input.replicas
        ? replicaLines(input.replicas, proxy)
        : [`  proxy and auth  ${proxy}`]),
    `  dev IdP         ${stack.idp.issuer}`,
    `  cluster         ${cluster ? describeCluster(cluster) : 'none'}`,
    ...(input.sandboxOnly ? ['  kubeconfig      not looked at (--sandbox-only)'] : stack.kubeconfigNotUsed ? [`  kubeconfig      not used: ${stack.kubeconfigNotUsed}`] : []),
    input.replicas
      ? `  data dir        ${input.dataDir} (TLS; each replica's ztsh.yaml, ztshd.log and ztshd.pid in ${input.replicas.dir}/rN)`
      : `  data dir        ${input.dataDir} (SQLite, CA keys, TLS)`,
    `  TLS CA          ${input.tlsCaFile} (trusted for the ztsh CLI via ${input.trustFile})`,
    '',
    'Demo users (development only):',
    '  user   password             groups      TOTP secret (add it to any authenticator app)',
    ...rows,
    '',
    ...(real && !isLoopback(input.host)
      ? [
          `Warning: these passwords are public and the stack listens on ${input.host}: whoever reaches it can use`,
          `context "${real.context}" as bob (system:masters). Use --host 127.0.0.1 or --sandbox-only.`,
          '',
        ]
      : []),
    'Next, in another terminal:',
    `  pnpm -s ztsh login --proxy ${proxy}`,
    '  pnpm -s ztsh status',
    ...(cluster ? ['  pnpm -s ztsh kube ls', `  pnpm -s ztsh kube login ${cluster.name}`, '  kubectl get pods'] : []),
    ...(input.replicas && input.replicas.list.length > 1
      ? ['', `To see a replica die: kill -9 ${input.replicas.list[input.replicas.list.length - 1]!.pid} (${input.replicas.list[input.replicas.list.length - 1]!.name}); the next command goes to another one.`]
      : []),
    ...(real
      ? [
          '',
          `The agent impersonates you in "${real.context}": alice as group developers, which a fresh cluster`,
          'grants nothing. Let that group read:',
          `  kubectl --context ${real.context} create clusterrolebinding ztsh-dev-developers --clusterrole=view --group=developers`,
          'or log in as bob, whose role impersonates system:masters.',
        ]
      : []),
    '',
    'Your browser will warn about the self-signed certificate once; it is the dev CA above.',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

function replicaLines(replicas: DevBannerReplicas, front: string): string[] {
  const up = replicas.list.filter((r) => r.up).length;
  return [
    `  front           ${front} (haproxy, pid ${replicas.frontPid}; TLS passes through to the replicas)`,
    `  replicas        ${up} of ${replicas.list.length} up, auth and proxy in each (ztshd start)`,
    ...replicas.list.map((r) => `    ${r.name.padEnd(4)}${(r.up ? 'up' : 'down').padEnd(6)}pid ${String(r.pid).padEnd(8)}${r.host}:${r.port}`),
    `  store           PostgreSQL ${replicas.store}, shared by the replicas (CA pairs, users, audit log, recordings)`,
  ];
}

function describeCluster(cluster: DevCluster): string {
  const labels = Object.entries(cluster.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const source = cluster.source;
  if (source.kind === 'sandbox') return `${cluster.name} (${labels}): the kube-apiserver test double, behind an agent that dialled the proxy`;
  const version = source.version ? ` (Kubernetes ${source.version})` : '';
  return `${cluster.name} (${labels}): your kubeconfig context "${source.context}", ${source.server.origin}${version}, behind an agent using the context's ${source.credentials}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
