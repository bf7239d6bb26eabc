// Several ztshd replicas as deployed for high availability (docs/deploy.md,
// "Running several replicas"): each `ztshd start` in a process of its own,
// from a generated ztsh.yaml, on one PostgreSQL database (a server the bench
// starts), behind haproxy in TCP mode (TLS passes through); the apiserver
// double and an agent each in a process of their own (kubectl-parts.ts), the
// agent dialing a front of its own that has every replica, so it holds a
// tunnel to each. alice (developer) and bob (devops-admin) are logged in
// through the users' front. Used by the lock-propagation and replica GET
// rows (lock-propagation.ts, replica-get.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { openPostgresStorage } from '@ztsh/auth';
import { DEV_ROLES, DEV_USERS, listeningPort, startHaproxy, type Backend, type HaproxyFront } from '@ztsh/server';
import { createTestTls, startDevIdp, type DevIdp } from '@ztsh/testkit';
import { httpLogin } from '../test/helpers/http-login.ts';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.ts';
import { ZTSHD } from '../test/helpers/source-bins.ts';
import { SA_TOKEN, startPart, stopAll } from './deployed.ts';
import type { AgentPartConfig, PartReady } from './kubectl-parts.ts';

const CA_KEY_SECRET = 'bench-replicas-ca-key-secret-0123456789';
const CLIENT_SECRET = 'bench-replicas-idp-client-secret';
const USERS = DEV_USERS.slice(0, 2); // alice, bob

export interface Replica {
  name: string;
  pid: number;
  backend: Backend;
  /** https://127.0.0.1:<its own port>, to aim a request at this replica alone. */
  url: string;
}

/** A client certificate and its key, as `ztsh login` stores them. */
export interface ClientCert {
  cert: string;
  key: string;
}

export interface Replicas {
  replicas: Replica[];
  /** haproxy in front of the replicas, for users; its backends can be narrowed. */
  front: HaproxyFront;
  /** The CA of every replica's TLS certificate (and the front's, which passes TLS through). */
  caCert: string;
  apiserver: { pid: number };
  agent: { pid: number };
  alice: ClientCert;
  bob: ClientCert;
  close(): Promise<void>;
}

/** One replica's ztsh.yaml: the shared database, TLS pair, IdP client and CA seal; its own scratch dir. */
function replicaConfig(work: string, name: string, dbUrl: string, publicUrl: URL, idp: DevIdp): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'ztsh.yaml');
  writeFileSync(
    file,
    stringify({
      version: 'v1',
      data_dir: './data',
      log_level: 'info',
      storage: { engine: 'postgres', url: dbUrl, pool: 5 },
      proxy: { listen: '127.0.0.1:0', public_addr: publicUrl.origin, tls: { cert_file: join(work, 'tls.crt'), key_file: join(work, 'tls.key') } },
      auth: {
        cluster_name: 'bench',
        ca_key_secret: { env: 'ZTSH_CA_KEY_SECRET' },
        connectors: [
          {
            name: 'dev',
            type: 'oidc',
            issuer: idp.issuer,
            ca_file: join(work, 'ca.crt'),
            client_id: 'ztsh',
            client_secret: CLIENT_SECRET,
            username_claim: 'preferred_username',
            claims_to_roles: [
              { claim: 'groups', value: 'developers', roles: ['developer'] },
              { claim: 'groups', value: 'DevOps', roles: ['devops-admin'] },
            ],
          },
        ],
        roles: DEV_ROLES,
      },
    }),
  );
  return file;
}

/** Starts `ztshd start` and resolves once it logs the port it bound. */
function startReplica(name: string, config: string, children: ChildProcess[]): Promise<Replica> {
  const child = spawn(process.execPath, [...ZTSHD, 'start', '--config', config], {
    env: { PATH: process.env.PATH ?? '', ZTSH_CA_KEY_SECRET: CA_KEY_SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise<Replica>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const port = out.split('\n').map(listeningPort).find((p) => p !== undefined);
      if (port === undefined) return;
      // Its log is not read any further, but must be drained or the replica blocks on a full pipe.
      out = '';
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.resume();
      resolve({ name, pid: child.pid!, backend: { host: '127.0.0.1', port }, url: `https://127.0.0.1:${port}` });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`replica ${name} exited (code ${code}) at start:\n${out}`)));
  });
}

export async function startReplicas(count: number, say?: (text: string) => void): Promise<Replicas> {
  const children: ChildProcess[] = [];
  const work = mkdtempSync(join(tmpdir(), 'ztsh-bench-replicas-'));
  let pg: TestPostgres | undefined;
  let idp: DevIdp | undefined;
  const fronts: HaproxyFront[] = [];
  const close = async () => {
    await stopAll(children);
    for (const f of fronts) await f.stop();
    await idp?.close();
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    pg = await startPostgres();
    const dbUrl = await pg.createDatabase();
    const tls = await createTestTls();
    writeFileSync(join(work, 'tls.crt'), tls.cert);
    writeFileSync(join(work, 'tls.key'), tls.key, { mode: 0o600 });
    writeFileSync(join(work, 'ca.crt'), tls.caCert);
    // The fronts first: the replicas must know the one public address.
    const front = await startHaproxy([], { healthPath: '/readyz' });
    fronts.push(front);
    const publicUrl = new URL(`https://localhost:${front.port}`);
    const agentFront = await startHaproxy([], { healthPath: '/readyz' });
    fronts.push(agentFront);
    idp = await startDevIdp({
      publicHost: 'localhost',
      tls: { cert: tls.cert, key: tls.key },
      users: USERS.map((u) => ({ username: u.username, password: u.password, email: `${u.username}@example.com`, name: u.username, groups: u.groups })),
      clients: [{ clientId: 'ztsh', clientSecret: CLIENT_SECRET, redirectUris: [new URL('/oidc/callback', publicUrl).toString()] }],
    });
    const configs = Array.from({ length: count }, (_, i) => replicaConfig(work, `r${i + 1}`, dbUrl, publicUrl, idp!));
    // Started together, as a rollout does: migrations and the CA pair come out the same under the race.
    const replicas = await Promise.all(configs.map((c, i) => startReplica(`r${i + 1}`, c, children)));
    await front.setBackends(replicas.map((r) => r.backend));
    await agentFront.setBackends(replicas.map((r) => r.backend));
    // The demo users' TOTP devices, as `ztshd dev` enrolls them (the replicas migrated the database).
    const seed = await openPostgresStorage({ url: dbUrl, poolSize: 1 });
    try {
      for (const u of USERS) await seed.mfa.add({ id: `bench-totp-${u.username}`, user: u.username, kind: 'totp', name: 'bench authenticator', secret: u.totpSecret!, lastTimeStep: 0, createdAt: Date.now() });
    } finally {
      await seed.close();
    }
    const apiserver = await startPart<Extract<PartReady, { part: 'apiserver' }>>('apiserver', { saToken: SA_TOKEN }, children);
    // Join tokens are in the shared store: made through any replica's config.
    const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', 'sandbox', '--config', configs[0]!, '--format', 'json'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ZTSH_CA_KEY_SECRET: CA_KEY_SECRET },
    });
    if (made.status !== 0) throw new Error(`ztshd tokens add: ${made.stderr}`);
    const agentConfig: AgentPartConfig = {
      proxy: `https://localhost:${agentFront.port}`,
      proxyCa: tls.caCert,
      token: (JSON.parse(made.stdout) as { token: string }).token,
      kubeUrl: apiserver.url,
      kubeCa: apiserver.caCert,
      saToken: SA_TOKEN,
      replicas: count,
    };
    const agent = await startPart<Extract<PartReady, { part: 'agent' }>>('agent', agentConfig, children);
    const login = async (user: (typeof USERS)[number]): Promise<ClientCert> => {
      // On a loaded machine a replica's first call to the IdP (discovery) can time out and fail the
      // login: the bench tries again, as a person would. TOTP codes are single use per 30 s step.
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await httpLogin(publicUrl, tls.caCert, user, Date.now() + (attempt - 1) * 30_000);
          if (r.status !== 200) throw new Error(`login of ${user.username}: ${r.status} ${JSON.stringify(r.json)}`);
          return { cert: r.json.certificate as string, key: r.keys.privateKey };
        } catch (error) {
          if (attempt === 3) throw error;
          say?.(`  login of ${user.username} failed (${(error as Error).message}); again\n`);
        }
      }
    };
    const alice = await login(USERS[0]!);
    const bob = await login(USERS[1]!);
    return { replicas, front, caCert: tls.caCert, apiserver: { pid: apiserver.pid }, agent: { pid: agent.pid }, alice, bob, close };
  } catch (error) {
    await close();
    throw error;
  }
}
