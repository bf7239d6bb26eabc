// The whole system on one laptop: the dev IdP (a real OIDC server), ztshd
// with SQLite in a data dir, demo users with known passwords and TOTP
// secrets, and a cluster behind an agent (the kubeconfig's current context,
// or the sandbox: see dev-cluster.ts). `ztshd dev` runs it; end-to-end tests
// start it on port 0.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuthConfigInput, type Clock, type RoleSchema, type Storage } from '@ztsh/auth';
import { startDevIdp, type DevIdp } from '@ztsh/testkit';
import type { z } from 'zod';
import { MetricsConfigSchema, ZtshdConfigSchema, type ZtshdConfig } from './config.ts';
import { startAuthAlone, startProxyAlone, startZtshd, type RunningAuthAlone, type RunningProxyAlone, type RunningZtshd, type StartOptions } from './start.ts';
import { createServer } from 'node:net';
import { createJoinToken } from '@ztsh/auth';
import { servingTls } from './tls.ts';
import { startDevCluster, type DevCluster } from './dev-cluster.ts';
import type { DevSandbox } from './dev-sandbox.ts';

export interface DevUser {
  username: string;
  password: string;
  groups: string[];
  /** Pre-enrolled TOTP secret (base32); users without one enroll at first login. */
  totpSecret?: string;
}

/** The demo users. Their passwords and TOTP secrets are public: dev only. */
export const DEV_USERS: DevUser[] = [
  { username: 'alice', password: 'alice-dev-password', groups: ['developers'], totpSecret: 'ALICE2ZTSH3DEV4TOTP5SECRET6ABCDE' },
  { username: 'bob', password: 'bob-dev-password', groups: ['DevOps'], totpSecret: 'BOBBY2ZTSH3DEV4TOTP5SECRET6ABCDE' },
  { username: 'carol', password: 'carol-dev-password', groups: ['auditors'], totpSecret: 'CAROL2ZTSH3DEV4TOTP5SECRET6ABCDE' },
];

type RoleInput = z.input<typeof RoleSchema>;

export const DEV_ROLES: RoleInput[] = [
  {
    kind: 'role',
    version: 'v1',
    metadata: { name: 'developer', description: 'read and debug workloads in dev, staging and the sandbox' },
    spec: {
      options: { max_session_ttl: '8h', require_mfa: true },
      allow: {
        kubernetes_labels: { env: ['dev', 'staging', 'sandbox'] },
        kubernetes_groups: ['developers'],
        kubernetes_resources: [
          { kind: 'pods', namespace: '*', name: '*', verbs: ['get', 'list', 'watch', 'create', 'delete', 'exec', 'attach', 'portforward'] },
          { kind: '*', namespace: '*', name: '*', verbs: ['get', 'list', 'watch'] },
          { kind: 'configmaps', namespace: '*', name: '*', verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        ],
      },
      deny: { kubernetes_resources: [{ kind: 'secrets', namespace: '*', name: '*', verbs: ['*'] }] },
    },
  },
  {
    kind: 'role',
    version: 'v1',
    metadata: { name: 'devops-admin', description: 'full access to every cluster' },
    spec: {
      options: { max_session_ttl: '8h', require_mfa: true },
      allow: {
        kubernetes_labels: { '*': ['*'] },
        kubernetes_groups: ['system:masters'],
        kubernetes_resources: [{ kind: '*', namespace: '*', name: '*', verbs: ['*'] }],
        permissions: ['admin'],
      },
    },
  },
  {
    kind: 'role',
    version: 'v1',
    metadata: { name: 'auditor', description: 'search the audit log and replay sessions' },
    spec: {
      options: { max_session_ttl: '4h', require_mfa: true },
      allow: { kubernetes_groups: ['auditors'], permissions: ['audit'] },
    },
  },
];

/** The dev IdP's groups mapped to DEV_ROLES. */
export const DEV_CLAIMS_TO_ROLES = [
  { claim: 'groups', value: 'developers', roles: ['developer'] },
  { claim: 'groups', value: 'DevOps', roles: ['devops-admin'] },
  { claim: 'groups', value: 'auditors', roles: ['auditor'] },
];

export interface DevStackOptions {
  dataDir: string;
  /** Bind address; default 127.0.0.1. */
  host?: string;
  /** Default 3080; tests pass 0. */
  port?: number;
  /** Host name in URLs; default localhost (WebAuthn needs a name, not an IP). */
  publicHost?: string;
  log: Logger;
  clock?: Clock;
  users?: DevUser[];
  roles?: RoleInput[];
  /** The dev connector's claims_to_roles (default DEV_CLAIMS_TO_ROLES): tests give a group more roles. */
  claimsToRoles?: typeof DEV_CLAIMS_TO_ROLES;
  /** Changes to the auth section (tests: MFA policy, connectors). */
  auth?: Partial<AuthConfigInput>;
  tamperIdToken?: (idToken: string) => string | Promise<string>;
  /** The only environment the stack reads (KUBECONFIG, HOME among others); default {}, so nothing of this machine's. */
  env?: Record<string, string | undefined>;
  /** Run the "sandbox" cluster: the kube-apiserver test double behind an agent. */
  sandbox?: boolean;
  /**
   * Serve the current context of the kubeconfig found through `env` ($KUBECONFIG, else
   * $HOME/.kube/config) behind an agent when it is usable; the sandbox then does not run.
   */
  kubeconfig?: boolean;
  /** The kubeconfig context to serve instead of the current one (implies `kubeconfig`). */
  kubeContext?: string | undefined;
  /**
   * Run auth and the proxy apart, as `services: [auth]` and `services: [proxy]`
   * do: two listeners in this process, talking HTTPS with the proxy's host
   * certificate. The auth service keeps its data in <dataDir>/auth.
   */
  split?: boolean;
  /** The metrics section of ztsh.yaml (tests: an operations listener on port 0, or a token). */
  metrics?: z.input<typeof MetricsConfigSchema>;
}

export interface DevStack {
  /** Auth and proxy; when split, the proxy's URL, port and TLS with the auth service of the other listener. */
  ztshd: RunningZtshd;
  /** Set when auth and the proxy run apart. */
  split?: { auth: RunningAuthAlone; proxy: RunningProxyAlone } | undefined;
  idp: DevIdp;
  /** The cluster behind the dev stack's agent, if one runs. */
  cluster?: DevCluster | undefined;
  /** Set when the cluster is the sandbox. */
  sandbox?: DevSandbox | undefined;
  /** Why the kubeconfig context is not served, when it was looked for. */
  kubeconfigNotUsed?: string | undefined;
  url: URL;
  users: DevUser[];
  close(): Promise<void>;
}

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const users = options.users ?? DEV_USERS;
  const publicHost = options.publicHost ?? 'localhost';
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const clientSecret = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
  const base: ZtshdConfig = ZtshdConfigSchema.parse({
    version: 'v1',
    data_dir: options.dataDir,
    log_level: 'info',
    proxy: {
      listen: `${options.host ?? '127.0.0.1'}:${options.port ?? 3080}`,
      public_addr: `https://${publicHost}:${options.port ?? 3080}`,
    },
    auth: {
      connectors: [
        {
          name: 'dev',
          type: 'oidc',
          display_name: 'ztsh dev IdP',
          issuer: 'https://placeholder.invalid',
          client_id: 'ztsh',
          client_secret: clientSecret,
          username_claim: 'preferred_username',
          claims_to_roles: options.claimsToRoles ?? DEV_CLAIMS_TO_ROLES,
        },
      ],
      roles: options.roles ?? DEV_ROLES,
      ...options.auth,
    },
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  let idp: DevIdp | undefined;
  const prepare: StartOptions['prepare'] = async (url, config) => {
    const tls = await servingTls({ baseDir: options.dataDir, dataDir: options.dataDir, hostname: publicHost });
    idp = await startDevIdp({
      host: options.host ?? '127.0.0.1',
      port: 0,
      publicHost,
      tls: { cert: tls.cert, key: tls.key },
      users: users.map((u) => ({ username: u.username, password: u.password, email: `${u.username}@example.com`, name: u.username, groups: u.groups })),
      clients: [{ clientId: 'ztsh', clientSecret, redirectUris: [new URL('/oidc/callback', url).toString()] }],
      ...(options.tamperIdToken ? { tamperIdToken: options.tamperIdToken } : {}),
    });
    const caFile = join(options.dataDir, 'tls', 'ca.crt');
    const auth = config.auth!;
    return {
      ...config,
      auth: { ...auth, connectors: auth.connectors.map((c) => (c.name === 'dev' ? { ...c, issuer: idp!.issuer, ca_file: caFile } : c)) },
    };
  };
  const common = {
    baseDir: options.dataDir,
    env: options.env ?? {},
    log: options.log,
    ...(options.clock ? { clock: options.clock } : {}),
    publicUrlFor: (port: number) => new URL(`https://${publicHost}:${port}`),
  };
  let split: DevStack['split'];
  const ztshd = await (options.split ? startSplit() : startZtshd({ config: base, prepare, ...common })).catch(async (error: unknown) => {
    await idp?.close();
    throw error;
  });

  /** Auth alone on its own port, then a proxy alone that joins it with a proxy token. */
  async function startSplit(): Promise<RunningZtshd> {
    const host = options.host ?? '127.0.0.1';
    // Auth must know the proxies' public address before the proxy exists.
    const proxyPort = options.port || (await freePort(host));
    const authConfig = ZtshdConfigSchema.parse({
      ...base,
      services: ['auth'],
      data_dir: join(options.dataDir, 'auth'),
      proxy: undefined,
      auth: { ...base.auth, listen: `${host}:0`, public_addr: `https://${publicHost}:${proxyPort}` },
    });
    const auth = await startAuthAlone({ config: authConfig, prepare, ...common });
    try {
      const { token } = await createJoinToken(auth.auth.deps, { type: 'proxy', ttlMs: 10 * 60_000, uses: 1 });
      const proxyConfig = ZtshdConfigSchema.parse({
        ...base,
        services: ['proxy'],
        auth: undefined,
        proxy: {
          ...base.proxy,
          listen: `${host}:${proxyPort}`,
          auth_server: `https://127.0.0.1:${auth.port}`,
          auth_ca_file: auth.tls.caFile,
          join_token: token,
        },
      });
      const proxy = await startProxyAlone({ config: proxyConfig, ...common });
      split = { auth, proxy };
      return {
        url: proxy.url,
        port: proxy.port,
        auth: auth.auth,
        tls: proxy.tls,
        proxy: proxy.proxy,
        metricsUrl: proxy.metricsUrl,
        close: async () => {
          await proxy.close();
          await auth.close();
        },
      };
    } catch (error) {
      await auth.close();
      throw error;
    }
  }
  await enrollDevTotp(ztshd.auth.storage, users, options.clock);
  const { cluster, kubeconfigNotUsed } = await startDevCluster({
    auth: ztshd.auth,
    proxyUrl: ztshd.url,
    proxyCa: ztshd.tls.selfSignedCa!,
    dataDir: options.dataDir,
    log: options.log,
    env: options.env ?? {},
    kubeconfig: options.kubeconfig === true || options.kubeContext !== undefined,
    kubeContext: options.kubeContext,
    sandbox: options.sandbox === true,
  }).catch(async (error: unknown) => {
    await ztshd.close();
    await idp!.close();
    throw error;
  });
  return {
    ztshd,
    split,
    idp: idp!,
    cluster,
    sandbox: cluster?.sandbox,
    kubeconfigNotUsed,
    url: ztshd.url,
    users,
    close: async () => {
      await cluster?.close();
      await ztshd.close();
      await idp!.close();
    },
  };
}

/** The demo users' TOTP devices, added once to the store (the replicas' shared one too). */
export async function enrollDevTotp(storage: Storage, users: DevUser[], clock?: Clock): Promise<void> {
  for (const user of users) {
    if (!user.totpSecret) continue;
    if ((await storage.mfa.list(user.username)).some((d) => d.kind === 'totp')) continue;
    await storage.mfa.add({
      id: `dev-totp-${user.username}`,
      user: user.username,
      kind: 'totp',
      name: 'dev authenticator',
      secret: user.totpSecret,
      lastTimeStep: 0,
      createdAt: (clock?.now() ?? new Date()).getTime(),
    });
  }
}

/** Lets the ztsh CLI on this machine trust the dev stack's self-signed certificate. */
export function trustForCli(ztshHome: string, url: URL, caPem: string): string {
  const dir = join(ztshHome, 'trust');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${url.hostname}_${url.port || '443'}.pem`);
  writeFileSync(file, caPem, { mode: 0o644 });
  return file;
}

/** A port nothing listens on now (the split dev stack's proxy port, which auth must know first). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
