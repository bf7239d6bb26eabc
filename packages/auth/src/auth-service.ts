// Wires the auth service from its config: CAs on disk, SQLite, connectors,
// roles, and the Koa app. The entry point (ztshd) reads files and env and
// passes them in; nothing here reads process.env.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { type Role, ZtshError } from '@ztsh/protocol';
import { createAccessRequests } from './access-requests/service.ts';
import { startExpirySweeper } from './access-requests/sweeper.ts';
import { createAuditLog } from './audit/audit-log.ts';
import { loadOrCreateAuthority, type CertAuthority } from './ca/authority.ts';
import { randomIds, systemClock, type Clock, type IdSource } from './clock.ts';
import type { AuthConfig } from './config.ts';
import { parseDuration } from './duration.ts';
import { createAuthApp } from './http/app.ts';
import { createLocks } from './locks/locks.ts';
import type { AuthMetrics } from './metrics.ts';
import type { LoginDeps } from './login/login-deps.ts';
import { createOidcConnector, type OidcConnector } from './oidc/connector.ts';
import { checkUniqueRoles, parseRoles } from './roles/load-roles.ts';
import { watchLostSessions } from './lost-sessions.ts';
import { resolveSecret, type SecretContext } from './secrets.ts';
import { openStorage, type StorageConfigInput } from './storage/storage-config.ts';
import type { Storage } from './storage/storage.ts';

export interface AuthServiceOptions {
  config: AuthConfig;
  dataDir: string;
  publicUrl: URL;
  log: Logger;
  secrets: SecretContext;
  clock?: Clock;
  ids?: IdSource;
  trustProxy?: boolean;
  /** Prometheus metrics of issuance, logins and the audit log (metrics.ts). */
  metrics?: AuthMetrics | undefined;
  /** The proxy replica in this process, if any (lost-sessions.ts: one replica closes the sessions of lost ones). */
  replicaId?: (() => string | null | undefined) | undefined;
  /** The `storage` section of ztsh.yaml; absent: SQLite in dataDir. */
  storage?: StorageConfigInput | undefined;
}

export interface AuthService {
  app: Koa;
  deps: LoginDeps;
  storage: Storage;
  userCa: CertAuthority;
  hostCa: CertAuthority;
  /** Where the proxy writes session recordings and the auditors' API reads them. */
  recordingsDir: string;
  /** Writes what the audit log still queues, then closes the store. */
  close(): Promise<void>;
}

export function loadRoles(config: AuthConfig, baseDir: string): Map<string, Role> {
  const roles = [...config.roles];
  for (const file of config.roles_files) {
    const path = resolve(baseDir, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ZtshError('invalid_config', `auth.roles_files: cannot read ${path}`, { cause });
    }
    roles.push(...parseRoles(text, path));
  }
  return new Map(checkUniqueRoles(roles, 'auth.roles').map((r) => [r.metadata.name, r]));
}

/** Cross-field checks zod cannot express: mappings name real roles, names are unique. */
export function checkAuthConfig(config: AuthConfig, roles: Map<string, Role>): void {
  const names = new Set<string>();
  config.connectors.forEach((c, i) => {
    if (names.has(c.name)) throw new ZtshError('invalid_config', `auth.connectors[${i}].name: "${c.name}" is used twice`);
    names.add(c.name);
    c.claims_to_roles.forEach((m, j) =>
      m.roles.forEach((r, k) => {
        if (!roles.has(r)) {
          throw new ZtshError('invalid_config', `auth.connectors[${i}].claims_to_roles[${j}].roles[${k}]: unknown role "${r}"`, {
            hint: `defined roles: ${[...roles.keys()].join(', ') || '(none)'}`,
          });
        }
      }),
    );
  });
  if (config.default_connector && !names.has(config.default_connector)) {
    throw new ZtshError('invalid_config', `auth.default_connector: unknown connector "${config.default_connector}"`, {
      hint: `defined connectors: ${[...names].join(', ')}`,
    });
  }
}

export async function createAuthService(options: AuthServiceOptions): Promise<AuthService> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? randomIds;
  const roles = loadRoles(config, options.secrets.baseDir);
  checkAuthConfig(config, roles);

  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const keySecret = config.ca_key_secret ? resolveSecret(config.ca_key_secret, 'auth.ca_key_secret', options.secrets) : undefined;
  const caDir = join(options.dataDir, 'ca');
  const onEvent = (message: string) => log.info({ caDir }, message);
  const storage = await openStorage(options.storage, options.dataDir, { secrets: options.secrets, onError: (message, err) => log.warn({ err }, message) });
  // Where the store keeps CA pairs (PostgreSQL), every replica takes them from there.
  const store = storage.authorities;
  const userCa = await loadOrCreateAuthority({ dir: caDir, kind: 'user', clusterName: config.cluster_name, clock, keySecret, onEvent, store });
  const hostCa = await loadOrCreateAuthority({ dir: caDir, kind: 'host', clusterName: config.cluster_name, clock, keySecret, onEvent, store });

  const recordingsDir = join(options.dataDir, 'recordings');
  const redirectUri = new URL('/oidc/callback', options.publicUrl).toString();
  const connectors = new Map<string, OidcConnector>(
    config.connectors.map((c, i) => [
      c.name,
      createOidcConnector(c.ca_file ? { ...c, ca_file: resolve(options.secrets.baseDir, c.ca_file) } : c, {
        clientSecret: resolveSecret(c.client_secret, `auth.connectors[${i}].client_secret`, options.secrets),
        redirectUri,
      }),
    ]),
  );
  const audit = createAuditLog(storage, clock, options.metrics);
  options.metrics?.attach(audit);
  const deps: LoginDeps = {
    storage,
    clock,
    ids,
    audit,
    locks: await createLocks(storage, clock, ids, audit, (err: unknown) => log.warn({ err }, 'cannot re-read the locks after a change')),
    log,
    publicUrl: options.publicUrl,
    connectors,
    defaultConnector: config.default_connector ?? config.connectors[0]!.name,
    roles,
    policy: { mfa: config.mfa, mfa_methods: config.mfa_methods, cluster_name: config.cluster_name, defaultTtlMs: parseDuration(config.default_ttl) },
    userCa,
    hostCa,
    rp: { id: config.webauthn.rp_id ?? options.publicUrl.hostname, name: config.webauthn.rp_name, origin: options.publicUrl.origin },
  };
  const sweep = setInterval(() => {
    Promise.all([
      storage.logins.deleteExpired(clock.now().getTime() - 3_600_000),
      storage.webSessions.deleteExpired(clock.now().getTime()),
    ]).catch((err: unknown) => log.warn({ err }, 'cannot delete expired logins and web sessions'));
  }, 60_000);
  sweep.unref();
  // Locks changed by another process on this store (ztshd locks rm) apply
  // within a second, also where the store has no change feed across processes.
  const lockPoll = setInterval(() => deps.locks.refresh().catch((err: unknown) => log.warn({ err }, 'cannot re-read the locks')), 1000);
  lockPoll.unref();
  const requestSweeper = startExpirySweeper(createAccessRequests(deps), log);
  // Several replicas share this store: the sessions of one that died are closed by another.
  const lostSessions = storage.recordings ? watchLostSessions({ storage, audit, clock, log, recordingsDir, self: options.replicaId }) : undefined;
  return {
    app: createAuthApp(deps, { log, trustProxy: options.trustProxy ?? false, recordingsDir }),
    deps,
    storage,
    userCa,
    hostCa,
    recordingsDir,
    close: async () => {
      clearInterval(sweep);
      clearInterval(lockPoll);
      requestSweeper.stop();
      lostSessions?.stop();
      deps.locks.close();
      await audit.flush();
      await storage.close();
    },
  };
}
