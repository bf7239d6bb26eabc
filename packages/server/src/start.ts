// Starts ztshd from a loaded config. By default the auth service and the
// proxy run together behind one HTTPS listener at the public address; either
// may run alone (services: [auth] or [proxy]), the proxy then talking to
// auth over HTTPS with its host certificate.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { hostname as machineName } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createAuthMetrics, createAuthService, inProcessAuthClient, resolveSecret, type AuthService, type Clock, type IdSource } from '@ztsh/auth';
import {
  authForwarder,
  createProxyListener,
  createProxyMetrics,
  createProxyServer,
  ensureProxyIdentity,
  httpAuthClient,
  newKeyPair,
  newReplicaId,
  replicaSet,
  recoverSessions,
  renewalDue,
  storeIdentity,
  type HttpAuthClient,
  type ProxyIdentity,
  type ProxyServer,
} from '@ztsh/proxy';
import { ZtshError } from '@ztsh/protocol';
import type { ZtshdConfig } from './config.ts';
import { servingTls, type ServingTls } from './tls.ts';
import { startOps } from './metrics-listener.ts';
import { watchStore } from './store-readiness.ts';
import { startReplicaHeartbeat } from './replica-heartbeat.ts';

export interface StartOptions {
  config: ZtshdConfig;
  baseDir: string;
  env: Record<string, string | undefined>;
  log: Logger;
  clock?: Clock;
  ids?: IdSource;
  /** Overrides proxy.public_addr once the port is known (tests bind port 0). */
  publicUrlFor?: (port: number) => URL;
  /** Runs once the public URL is known, before auth starts; may adjust the config (the dev stack registers its IdP client here). */
  prepare?: (url: URL, config: ZtshdConfig) => Promise<ZtshdConfig>;
}

export interface RunningZtshd {
  url: URL;
  port: number;
  auth: AuthService;
  tls: ServingTls;
  proxy: ProxyServer;
  /** The operations listener (metrics.listen): /metrics, /healthz, /readyz. */
  metricsUrl?: URL | undefined;
  close(): Promise<void>;
}

export interface RunningAuthAlone {
  /** Where proxies reach this auth service. */
  url: URL;
  port: number;
  /** The proxies' public address, which users know. */
  publicUrl: URL;
  auth: AuthService;
  tls: ServingTls;
  metricsUrl?: URL | undefined;
  close(): Promise<void>;
}

export interface RunningProxyAlone {
  url: URL;
  port: number;
  tls: ServingTls;
  proxy: ProxyServer;
  authClient: HttpAuthClient;
  metricsUrl?: URL | undefined;
  close(): Promise<void>;
}

/** How long a proxy run alone waits for the auth service at start. */
const AUTH_WAIT_MS = 15_000;
const RENEWAL_CHECK_MS = 3_600_000;

function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}

function section<K extends 'auth' | 'proxy'>(config: ZtshdConfig, key: K): NonNullable<ZtshdConfig[K]> {
  const value = config[key];
  if (!value) throw new ZtshError('invalid_config', `${key}: required when services include ${key}`, { hint: 'see docs/configuration.md' });
  return value as NonNullable<ZtshdConfig[K]>;
}

function authServiceOptions(options: StartOptions, config: ZtshdConfig, dataDir: string, publicUrl: URL, trustProxy: boolean) {
  return {
    config: section(config, 'auth'),
    dataDir,
    storage: config.storage,
    publicUrl,
    log: options.log.child({ component: 'auth' }),
    secrets: { env: options.env, baseDir: options.baseDir },
    trustProxy,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.ids ? { ids: options.ids } : {}),
  };
}

/** `ztshd start`: whatever the config's services say. */
export async function startFromConfig(options: StartOptions): Promise<{ close(): Promise<void> }> {
  const services = new Set(options.config.services);
  if (services.size === 2) return startZtshd(options);
  if (services.has('auth')) return startAuthAlone(options);
  return startProxyAlone(options);
}

/** Auth and proxy in one process, on one listener. */
export async function startZtshd(options: StartOptions): Promise<RunningZtshd> {
  const { log } = options;
  let config = options.config;
  const proxyConfig = section(config, 'proxy');
  section(config, 'auth');
  const dataDir = resolve(options.baseDir, config.data_dir);
  const configured = new URL(proxyConfig.public_addr);
  const tls = await servingTls({ files: proxyConfig.tls, baseDir: options.baseDir, dataDir, hostname: configured.hostname, key: 'proxy.tls' });
  const { host, port } = splitHostPort(proxyConfig.listen);
  const ops = await startOps(config.metrics, { env: options.env, baseDir: options.baseDir }, log);

  // The listener is up before the auth service exists (tests need the port
  // for the public URL); until the proxy is attached it answers 503.
  const listener = createProxyListener({ tls });
  const boundPort = await listener.listen(port, host).catch(async (error: unknown) => {
    await ops.close();
    throw error;
  });
  const url = options.publicUrlFor ? options.publicUrlFor(boundPort) : configured;

  // This replica's id: its heartbeat row, and in a shared store the proxy its sessions are filed under.
  const replicaId = proxyConfig.replica_id ?? newReplicaId();
  let auth: AuthService;
  try {
    if (options.prepare) config = await options.prepare(url, config);
    auth = await createAuthService({
      ...authServiceOptions(options, config, dataDir, url, proxyConfig.trust_proxy),
      metrics: ops.registry && createAuthMetrics(ops.registry),
      replicaId: () => replicaId,
    });
  } catch (error) {
    await listener.close();
    await ops.close();
    throw error;
  }
  // With the store shared by replicas, each files its sessions under its own id, so one that dies can be told apart.
  const authClient = inProcessAuthClient(auth, auth.storage.recordings ? { replicaId } : {});
  await recoverSessions(authClient, log);
  // The replicas sharing the store, from their heartbeats: agents hold a tunnel to each.
  const replicas = replicaSet(replicaId);
  const heartbeat = await startReplicaHeartbeat({ store: auth.storage.replicas, replicas, now: () => (options.clock?.now() ?? new Date()).getTime(), log: log.child({ component: 'replicas' }) });
  const proxy = createProxyServer({
    listener,
    auth: authClient,
    knownClustersFile: join(dataDir, 'known-clusters.json'),
    fallback: ops.wrap(auth.app.callback() as never),
    log,
    metrics: ops.registry && createProxyMetrics(ops.registry),
    replicas,
    // The proxy judges certificate expiry by the same clock as the auth service that issued them.
    ...(options.clock ? { now: () => options.clock!.now() } : {}),
  });
  // Listening, storage open and migrated, CAs loaded: ready while the store keeps answering.
  const store = watchStore({ probe: () => auth.storage.locks.active(Date.now()), log });
  ops.ready(store.check);
  log.info({ listen: `${host}:${boundPort}`, publicUrl: url.toString() }, 'ztshd listening');

  return {
    url,
    port: boundPort,
    auth,
    tls,
    proxy,
    metricsUrl: ops.url,
    close: async () => {
      store.stop();
      await ops.close();
      await heartbeat.stop();
      await proxy.close();
      await auth.close();
    },
  };
}

/**
 * The auth service alone: its own HTTPS listener (auth.listen) where proxies
 * connect with their host certificates; users reach it only through them.
 */
export async function startAuthAlone(options: StartOptions): Promise<RunningAuthAlone> {
  const { log } = options;
  let config = options.config;
  const authConfig = section(config, 'auth');
  const dataDir = resolve(options.baseDir, config.data_dir);
  const { host, port } = splitHostPort(authConfig.listen ?? '0.0.0.0:3025');
  const serverName = host === '0.0.0.0' || host === '::' ? machineName() : host;
  const tls = await servingTls({ files: authConfig.tls, baseDir: options.baseDir, dataDir, hostname: serverName, key: 'auth.tls' });
  let publicUrl = new URL(authConfig.public_addr!);
  if (options.publicUrlFor) publicUrl = options.publicUrlFor(Number(publicUrl.port || 443));
  if (options.prepare) config = await options.prepare(publicUrl, config);
  const ops = await startOps(config.metrics, { env: options.env, baseDir: options.baseDir }, log);
  const auth = await createAuthService({ ...authServiceOptions(options, config, dataDir, publicUrl, false), metrics: ops.registry && createAuthMetrics(ops.registry) }).catch(async (error: unknown) => {
    await ops.close();
    throw error;
  });

  const server: Server = createServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, ops.wrap(auth.app.callback()));
  // Proxies hold their connections open (keep-alive, the watch): no idle cut-offs.
  server.keepAliveTimeout = 120_000;
  server.requestTimeout = 0;
  server.on('secureConnection', (socket) => socket.setNoDelay(true));
  const boundPort = await new Promise<number>((done, fail) => {
    server.once('error', (error) => {
      // The listen failure is what the caller hears; closing is best effort.
      void Promise.allSettled([auth.close(), ops.close()]);
      fail(new ZtshError('invalid_config', `auth.listen: cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    });
    server.listen(port, host, () => done((server.address() as AddressInfo).port));
  });
  const url = new URL(`https://${serverName.includes(':') ? `[${serverName}]` : serverName}:${boundPort}`);
  const store = watchStore({ probe: () => auth.storage.locks.active(Date.now()), log });
  ops.ready(store.check);
  log.info({ listen: `${host}:${boundPort}`, publicUrl: publicUrl.toString() }, 'ztshd auth service listening for proxies');
  return {
    url,
    port: boundPort,
    publicUrl,
    auth,
    tls,
    metricsUrl: ops.url,
    close: async () => {
      store.stop();
      await ops.close();
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await closed;
      await auth.close();
    },
  };
}

/**
 * The proxy alone: joins the auth service the first time (proxy.join_token),
 * keeps its host certificate fresh, and serves users and agents on its
 * listener, forwarding what is auth's to auth.
 */
export async function startProxyAlone(options: StartOptions): Promise<RunningProxyAlone> {
  const { log, config } = options;
  const proxyConfig = section(config, 'proxy');
  const dataDir = resolve(options.baseDir, config.data_dir);
  const authServer = new URL(proxyConfig.auth_server!);
  let authCa: string | undefined;
  if (proxyConfig.auth_ca_file) {
    const path = resolve(options.baseDir, proxyConfig.auth_ca_file);
    try {
      authCa = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ZtshError('invalid_config', `proxy.auth_ca_file: cannot read ${path}`, { cause });
    }
  }
  const now = () => options.clock?.now() ?? new Date();
  const identityDir = join(dataDir, 'proxy-identity');
  let identity: ProxyIdentity = await ensureProxyIdentity({
    authServer,
    authCa,
    dir: identityDir,
    token: () => (proxyConfig.join_token ? resolveSecret(proxyConfig.join_token, 'proxy.join_token', { env: options.env, baseDir: options.baseDir }) : undefined),
    now,
  });
  const ops = await startOps(config.metrics, { env: options.env, baseDir: options.baseDir }, log);
  let outbox: HttpAuthClient | undefined;
  const metrics = ops.registry && createProxyMetrics(ops.registry, { auditPending: () => outbox?.auditPending() ?? 0 });
  const client = httpAuthClient({
    server: authServer,
    ca: authCa,
    credentials: identity,
    recordingsDir: join(dataDir, 'recordings'),
    log: log.child({ component: 'auth-client' }),
    now: () => now().getTime(),
    metrics,
  });
  outbox = client;
  try {
    await client.ready(AUTH_WAIT_MS);
  } catch (error) {
    await client.close();
    await ops.close();
    throw error;
  }

  const renew = async () => {
    if (!renewalDue(identity, now())) return;
    const pair = newKeyPair();
    const renewed = await client.renew(pair.publicKey);
    identity = storeIdentity(identityDir, pair.privateKey, renewed.certificate);
    client.setCredentials(identity);
    log.info({ validUntil: renewed.validUntil }, 'renewed the proxy host certificate');
  };
  await renew().catch((error: unknown) => log.error({ err: error }, 'renewing the proxy host certificate failed; will try again'));
  const renewTimer = setInterval(() => {
    renew().catch((error: unknown) => log.error({ err: error }, 'renewing the proxy host certificate failed; will try again'));
  }, RENEWAL_CHECK_MS);
  renewTimer.unref();

  const configured = new URL(proxyConfig.public_addr);
  const tls = await servingTls({ files: proxyConfig.tls, baseDir: options.baseDir, dataDir, hostname: configured.hostname, key: 'proxy.tls' });
  const { host, port } = splitHostPort(proxyConfig.listen);
  const listener = createProxyListener({ tls });
  const proxy = createProxyServer({
    listener,
    auth: client,
    knownClustersFile: join(dataDir, 'known-clusters.json'),
    fallback: ops.wrap(authForwarder(client, { trustProxy: proxyConfig.trust_proxy, log })),
    log,
    metrics,
    now,
    // A proxy apart from auth has no store to heartbeat in: agents are told of this replica alone.
    replicas: replicaSet(proxyConfig.replica_id ?? newReplicaId()),
  });
  let boundPort: number;
  try {
    boundPort = await listener.listen(port, host);
  } catch (error) {
    clearInterval(renewTimer);
    await proxy.close();
    await client.close();
    await ops.close();
    throw error;
  }
  const url = options.publicUrlFor ? options.publicUrlFor(boundPort) : configured;
  // Sessions this proxy left open when it last stopped, and recordings it could not hand over then.
  await recoverSessions(client, log).catch((error: unknown) => log.error({ err: error }, 'closing interrupted sessions failed'));
  void client.handOverLeftovers();
  // Ready while the state mirror is fresh: a proxy that lost auth refuses every request.
  ops.ready(() => (client.unavailable() ? 'auth service unreachable' : undefined));
  log.info({ listen: `${host}:${boundPort}`, publicUrl: url.toString(), authServer: authServer.origin }, 'ztshd proxy listening');
  return {
    url,
    port: boundPort,
    tls,
    proxy,
    authClient: client,
    metricsUrl: ops.url,
    close: async () => {
      await ops.close();
      clearInterval(renewTimer);
      await proxy.close();
      await client.close();
    },
  };
}
