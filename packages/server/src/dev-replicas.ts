// `ztshd dev --replicas N --postgres URL`: the high-availability deployment
// on one laptop. N all-in-one replicas, each a `ztshd start` child process
// with a config written here, on one PostgreSQL database, sharing one TLS
// pair (the CA pair is in the database), behind the haproxy front (TCP,
// TLS passed through) on the one public address; the dev IdP, the demo
// users and the dev cluster behind an agent, which holds a tunnel to each
// replica through the front, as in a deployment.
//
//   ztsh / kubectl / browser ──▶ haproxy :3080 ──▶ replica r1..rN (127.0.0.1:port 0)
//   agent (sandbox or kubeconfig) ─┘                   │
//                                                      └──▶ PostgreSQL (--postgres)
//
// <data dir>/tls       the serving pair and its CA (as `ztshd dev` makes it)
// <data dir>/replicas  the CA key secret, the IdP client secret, r1..rN/
//                      (ztsh.yaml, ztshd.log, ztshd.pid, scratch data), agents/
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { createAuditLog, openStorage, randomIds, systemClock, type StorageConfigInput } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';
import { startDevIdp, type DevIdp } from '@ztsh/testkit';
import { startDevCluster, type DevCluster } from './dev-cluster.ts';
import { startReplicaProcess, type ReplicaProcess } from './dev-replica-process.ts';
import { DEV_CLAIMS_TO_ROLES, DEV_ROLES, DEV_USERS, enrollDevTotp, type DevUser } from './dev-stack.ts';
import { findHaproxy, startHaproxy, type HaproxyFront } from './haproxy-front.ts';
import { servingTls, type ServingTls } from './tls.ts';

export interface DevReplicasOptions {
  dataDir: string;
  /** Where the front listens; the replicas listen on 127.0.0.1 only. */
  host: string;
  port: number;
  replicas: number;
  /** The storage section every replica gets (replicas-flags.ts). */
  storage: StorageConfigInput;
  /** How to run ztshd: this same program, e.g. node with its loader and main.ts. */
  ztshd: { command: string; args: string[] };
  /** The replicas' log level (their logs go to files). */
  replicaLogLevel: 'debug' | 'info';
  log: Logger;
  /** Given to the replicas (PGPASSWORD among others), and read for KUBECONFIG and HOME. */
  env: Record<string, string | undefined>;
  kubeconfig: boolean;
  kubeContext?: string | undefined;
  /** Told when a replica exits while the stack runs (killed, crashed). */
  onReplicaExit?: (replica: ReplicaProcess, how: { code: number | null; signal: NodeJS.Signals | null }, all: ReplicaProcess[]) => void;
}

export interface DevReplicasStack {
  /** The one address: the front's. */
  url: URL;
  front: HaproxyFront;
  replicas: ReplicaProcess[];
  idp: DevIdp;
  cluster?: DevCluster | undefined;
  kubeconfigNotUsed?: string | undefined;
  tls: ServingTls;
  /** Where the replicas' configs, logs and pid files are. */
  replicasDir: string;
  users: DevUser[];
  close(): Promise<void>;
}

const PUBLIC_HOST = 'localhost';

export async function startDevReplicas(options: DevReplicasOptions): Promise<DevReplicasStack> {
  // Before anything starts: without haproxy there is no one address.
  findHaproxy(options.env.PATH);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const replicasDir = join(options.dataDir, 'replicas');
  mkdirSync(replicasDir, { recursive: true, mode: 0o700 });
  const tls = await servingTls({ baseDir: options.dataDir, dataDir: options.dataDir, hostname: PUBLIC_HOST });
  const secrets = devSecrets(replicasDir);

  const cleanup: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((err: unknown) => options.log.warn({ err }, 'stopping the dev stack'));
  };
  try {
    // The front first: the replicas and the IdP must know the one public address.
    const front = await startHaproxy([], { host: options.host, port: options.port, healthPath: '/readyz', path: options.env.PATH });
    cleanup.push(() => front.stop());
    const url = new URL(`https://${PUBLIC_HOST}:${front.port}`);

    const idp = await startDevIdp({
      host: options.host,
      port: 0,
      publicHost: PUBLIC_HOST,
      tls: { cert: tls.cert, key: tls.key },
      users: DEV_USERS.map((u) => ({ username: u.username, password: u.password, email: `${u.username}@example.com`, name: u.username, groups: u.groups })),
      clients: [{ clientId: 'ztsh', clientSecret: secrets.clientSecret, redirectUris: [new URL('/oidc/callback', url).toString()] }],
    });
    cleanup.push(() => idp.close());

    const names = Array.from({ length: options.replicas }, (_, i) => `r${i + 1}`);
    for (const name of names) writeReplicaConfig(join(replicasDir, name), { ...options, url, idp, tls, secrets });
    // Started together, as a deployment's are: the migrations and the CA pair are made once under the race.
    const started = await Promise.allSettled(names.map((name) => startReplicaProcess({ name, dir: join(replicasDir, name), ztshd: options.ztshd, env: options.env })));
    const replicas = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    cleanup.push(() => Promise.all(replicas.map((r) => r.stop())).then(() => undefined));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw explained((failed as PromiseRejectedResult).reason, replicasDir);
    await front.setBackends(replicas.map((r) => ({ host: r.host, port: r.port })), { timeoutMs: 60_000 });
    let closing = false;
    cleanup.push(async () => {
      closing = true;
    });
    for (const r of replicas) void r.exited.then((how) => !closing && options.onReplicaExit?.(r, how, replicas));

    // The store the replicas share, opened here for what `ztshd dev` sets up in it: the demo users' TOTP, the agent's join token.
    const storage = await openStorage(options.storage, replicasDir, { secrets: { env: options.env, baseDir: options.dataDir } });
    let clusterChoice: Awaited<ReturnType<typeof startDevCluster>>;
    try {
      await enrollDevTotp(storage, DEV_USERS);
      const deps = { storage, clock: systemClock, ids: randomIds, audit: createAuditLog(storage, systemClock) };
      // The agent joins anew at each start (its token is new, the database may be too): no identity kept from before.
      const agentsDir = join(replicasDir, 'agents');
      rmSync(agentsDir, { recursive: true, force: true });
      clusterChoice = await startDevCluster({
        auth: { deps },
        proxyUrl: url,
        proxyCa: tls.selfSignedCa!,
        dataDir: agentsDir,
        log: options.log,
        env: options.env,
        kubeconfig: options.kubeconfig || options.kubeContext !== undefined,
        kubeContext: options.kubeContext,
        sandbox: true,
      });
      await deps.audit.flush();
    } finally {
      await storage.close();
    }
    const cluster = clusterChoice.cluster;
    if (cluster) {
      cleanup.push(() => cluster.close());
      await holdsEveryReplica(cluster, replicas.length);
    }
    // Stopped first: the agent, so no tunnel is cut under a request; then the replicas, the IdP and the front.
    return { url, front, replicas, idp, cluster, kubeconfigNotUsed: clusterChoice.kubeconfigNotUsed, tls, replicasDir, users: DEV_USERS, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Resolves once the agent holds a tunnel to every replica, so the first kubectl reaches the cluster whichever
 * replica serves it. At least `count`: rows of replicas a killed run left behind are announced until they age out.
 */
async function holdsEveryReplica(cluster: DevCluster, count: number, timeoutMs = 60_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const { held, wanted } = cluster.agent.replicas();
      reject(new ZtshError('unavailable', `the ${cluster.name} agent holds tunnels to ${held.length} of ${count} replicas after ${timeoutMs / 1000} s (announced: ${wanted?.length ?? 0})`));
    }, timeoutMs);
  });
  try {
    await Promise.race([cluster.agent.whenReplicas((s) => s.held.length === count && s.wanted?.length === count), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A replica's start error, with what to do when it is the dev stack's own doing. */
function explained(error: unknown, replicasDir: string): unknown {
  if (!(error instanceof ZtshError) || !/CA key cannot be decrypted/.test(error.message)) return error;
  // The database keeps the CA pair sealed with the secret of the data dir that first used it.
  return new ZtshError('invalid_config', error.message, {
    cause: error,
    hint: `the database was set up by ztshd dev with another data dir (its replicas/ca-key-secret): give that --data-dir, or an empty database (this one's secret: ${join(replicasDir, 'ca-key-secret')})`,
  });
}

interface DevSecrets {
  /** Seals the CA keys in the database; kept, since the database outlives a run. */
  caKeySecretFile: string;
  clientSecret: string;
  clientSecretFile: string;
}

function devSecrets(dir: string): DevSecrets {
  const random = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  const caKeySecretFile = join(dir, 'ca-key-secret');
  if (!existsSync(caKeySecretFile)) writeFileSync(caKeySecretFile, `${random()}\n`, { mode: 0o600, flag: 'wx' });
  const clientSecret = random();
  const clientSecretFile = join(dir, 'idp-client-secret');
  writeFileSync(clientSecretFile, `${clientSecret}\n`, { mode: 0o600 });
  return { caKeySecretFile, clientSecret, clientSecretFile };
}

/** The replica's ztsh.yaml: what `ztsh.yaml` on each replica of docs/deploy.md holds, with the dev IdP and roles. */
function writeReplicaConfig(
  dir: string,
  o: Pick<DevReplicasOptions, 'storage' | 'replicaLogLevel'> & { url: URL; idp: DevIdp; tls: ServingTls; secrets: DevSecrets },
): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = {
    version: 'v1',
    data_dir: './data',
    log_level: o.replicaLogLevel,
    storage: o.storage,
    proxy: {
      listen: '127.0.0.1:0',
      public_addr: o.url.origin,
      // One serving pair for every replica, as behind a real load balancer.
      tls: { cert_file: join(dirname(o.tls.caFile!), 'server.crt'), key_file: join(dirname(o.tls.caFile!), 'server.key') },
    },
    auth: {
      ca_key_secret: { file: o.secrets.caKeySecretFile },
      connectors: [
        {
          name: 'dev',
          type: 'oidc',
          display_name: 'ztsh dev IdP',
          issuer: o.idp.issuer,
          ca_file: o.tls.caFile!,
          client_id: 'ztsh',
          client_secret: { file: o.secrets.clientSecretFile },
          username_claim: 'preferred_username',
          claims_to_roles: DEV_CLAIMS_TO_ROLES,
        },
      ],
      roles: DEV_ROLES,
    },
  };
  writeFileSync(join(dir, 'ztsh.yaml'), stringify(config), { mode: 0o600 });
}
