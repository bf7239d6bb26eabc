// Issue 11, "What must be shown": three ztshd replicas, each its own process
// (`ztshd start`), on one fresh PostgreSQL database, behind haproxy in TCP
// mode; two agents for two clusters; the real kubectl. Users and agents
// know only haproxy's addresses: one for users, one for agents' tunnels
// (the same replicas behind both, as a deployment may give agents an
// address of their own). To aim a user's step at one replica, the test
// narrows the users' front to it (connections to the others are cut, as on
// a real cut-over), never by calling the replica's own port; the agents'
// front always has every live replica, so agents keep a tunnel to each.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startAgent, type RunningAgent } from '@ztsh/agent';
import { DEV_ROLES, listeningPort } from '@ztsh/server';
import { createTestTls, findKubectl, runKubectl, startDevIdp, startKubeDouble, startKubectl, type DevIdp, type KubeDouble, type Page, type TestTls } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, newZtshHome } from './helpers/cli.ts';
import { startHaproxy, type Backend, type HaproxyFront } from './helpers/haproxy.ts';
import { apiClient, CALLBACK, codeFrom, newLoginKeys, totpNow } from './helpers/http-login.ts';
import { startPostgres } from './helpers/postgres.ts';
import { storeLogin } from './helpers/profile.ts';
import { ZTSHD } from './helpers/source-bins.ts';

const LOG = process.env.ZTSH_TEST_LOG ?? 'silent';
const SA_TOKEN = 'ha-agent-service-account-token';
const CA_KEY_SECRET = 'ha-test-ca-key-secret-0123456789';
const CLIENT_SECRET = 'ha-test-idp-client-secret';

const USERS = [
  { username: 'alice', password: 'alice-ha-password', groups: ['developers'] },
  { username: 'bob', password: 'bob-ha-password', groups: ['DevOps'] },
  { username: 'carol', password: 'carol-ha-password', groups: ['auditors'] },
  { username: 'erin', password: 'erin-ha-password', groups: ['developers'] },
  { username: 'frank', password: 'frank-ha-password', groups: ['developers'] },
] as const;
type User = (typeof USERS)[number];

const kubectlBin = findKubectl('1.33', process.env.PATH);
if (!kubectlBin) throw new Error('kubectl.1.33 is not beside the kubectl on PATH: the HA test drives the real kubectl');

interface Replica {
  name: string;
  child: ChildProcess;
  backend: Backend;
  exited: Promise<void>;
  output: () => string;
}

let pg: Awaited<ReturnType<typeof startPostgres>>;
let dbUrl: string;
let work: string;
let tls: TestTls;
let caFile: string;
let idp: DevIdp;
let front: HaproxyFront;
let publicUrl: URL;
let agentFront: HaproxyFront;
let agentUrl: URL;
const replicas: Replica[] = [];
const agents: RunningAgent[] = [];
const doubles: Record<'sandbox' | 'staging', KubeDouble> = {} as never;
/** Each user's TOTP secret, from their enrollment at first login. */
const totpSecrets = new Map<string, string>();
const envOf: Record<string, Record<string, string>> = {};
let aliceCert: { cert: string; key: string };

/** ztsh.yaml of one replica: the shared database, TLS pair, IdP client and CA seal; its own scratch dir. */
function replicaConfig(name: string): string {
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
        cluster_name: 'ha',
        ca_key_secret: { env: 'ZTSH_CA_KEY_SECRET' },
        connectors: [
          {
            name: 'dev',
            type: 'oidc',
            issuer: idp.issuer,
            ca_file: caFile,
            client_id: 'ztsh',
            client_secret: CLIENT_SECRET,
            username_claim: 'preferred_username',
            claims_to_roles: [
              { claim: 'groups', value: 'developers', roles: ['developer'] },
              { claim: 'groups', value: 'DevOps', roles: ['devops-admin'] },
              { claim: 'groups', value: 'auditors', roles: ['auditor'] },
            ],
          },
        ],
        roles: DEV_ROLES,
      },
    }),
  );
  return file;
}

/** Starts one replica process and resolves with the port it bound (read from its "ztshd listening" log line). */
async function startReplica(name: string): Promise<Replica> {
  const config = replicaConfig(name);
  const child = spawn(process.execPath, [...ZTSHD, 'start', '--config', config], {
    env: { PATH: process.env.PATH ?? '', ZTSH_CA_KEY_SECRET: CA_KEY_SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica ${name} did not start within 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const port = out.split('\n').map(listeningPort).find((p) => p !== undefined);
      if (port !== undefined) {
        clearTimeout(timer);
        resolve(port);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`replica ${name} exited at start:\n${out}`));
    });
  });
  if (LOG !== 'silent') child.stdout!.pipe(process.stderr);
  const replica = { name, child, backend: { host: '127.0.0.1', port }, exited, output: () => out };
  replicas.push(replica);
  return replica;
}

const live = () => replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
/** Every live replica behind the front. */
const all = () => front.setBackends(live().map((r) => r.backend));
/** The agents' front follows the live replicas only. */
const agentsToAll = () => agentFront.setBackends(live().map((r) => r.backend));
/** Every agent holds a tunnel to every live replica and has been told of no other. */
async function agentsOnEveryReplica(): Promise<void> {
  await agentsToAll();
  const want = live().length;
  await Promise.all(agents.map((a) => a.whenReplicas((s) => s.held.length === want && s.wanted?.length === want)));
}
/** Only this replica behind the front: the next connections all reach it. */
const only = (r: Replica) => front.setBackends([r.backend]);

async function kill9(r: Replica): Promise<void> {
  r.child.kill('SIGKILL');
  await r.exited;
  await agentsToAll();
}

/** A browser login over HTTP, enrolling TOTP at the first login; `route` runs before each step, to pick the replica that serves it. */
async function login(user: User, route: (step: 'start' | 'callback' | 'mfa' | 'exchange') => Promise<void> = async () => undefined) {
  const ca = tls.caCert;
  await route('start');
  const api = apiClient(publicUrl, ca);
  const forms = api.forms();
  try {
    const keys = newLoginKeys();
    const started = await api.post('/v1/login/start', { publicKey: keys.publicKey, redirect: CALLBACK, verifierHash: keys.verifierHash });
    if (started.status !== 201) throw new Error(`login/start: ${started.status} ${JSON.stringify(started.json)}`);
    const idpPage = await forms.get(started.json.url);
    await route('callback');
    let page: Page = await forms.submitForm(idpPage, { username: user.username, password: user.password });
    await route('mfa');
    const enrolling = /id="totp-secret">([A-Z2-7]+)</.exec(page.html);
    if (enrolling) {
      totpSecrets.set(user.username, enrolling[1]!);
      page = await forms.submitForm(page, { code: totpNow(enrolling[1]!) }, { formAction: '/totp/enroll' });
    } else if (!codeFrom(page)) {
      page = await forms.submitForm(page, { code: totpNow(totpSecrets.get(user.username)!) }, { formAction: '/mfa/totp' });
    }
    const code = codeFrom(page);
    if (!code) throw new Error(`no code after MFA: ${page.status} ${page.url}\n${page.html.slice(0, 500)}`);
    await route('exchange');
    const exchanged = await api.post('/v1/login/exchange', { code, verifier: keys.verifier });
    if (exchanged.status !== 200) throw new Error(`login/exchange: ${exchanged.status} ${JSON.stringify(exchanged.json)}`);
    return { ...exchanged, keys, code };
  } finally {
    await forms.close();
    await api.close();
  }
}

/** Logs the user in and returns the environment to run ztsh and kubectl as them. */
async function loggedIn(user: User): Promise<Record<string, string>> {
  const result = await login(user);
  const home = newZtshHome();
  storeLogin(home, publicUrl, tls.caCert, result);
  if (user.username === 'alice') aliceCert = { cert: result.json.certificate as string, key: result.keys.privateKey };
  return { PATH: process.env.PATH!, HOME: home, ZTSH_HOME: home, KUBECONFIG: join(home, 'kubeconfig') };
}

async function addAgent(cluster: 'sandbox' | 'staging', labels: Record<string, string>): Promise<void> {
  const kubeTls = await createTestTls();
  const kube = await startKubeDouble({ tls: { cert: kubeTls.cert, key: kubeTls.key }, token: SA_TOKEN });
  doubles[cluster] = kube;
  // Join tokens are in the shared store: made through any replica's config.
  const made = await new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', cluster, '--config', join(work, replicas[0]!.name, 'ztsh.yaml'), '--format', 'json'], {
      env: { PATH: process.env.PATH ?? '', ZTSH_CA_KEY_SECRET: CA_KEY_SECRET },
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ztshd tokens add: ${out}`))));
  });
  const agent = await startAgent({
    proxy: agentUrl,
    cluster,
    labels,
    stateDir: mkdtempSync(join(tmpdir(), 'ztsh-ha-agent-')),
    token: () => (JSON.parse(made) as { token: string }).token,
    proxyCa: tls.caCert,
    kube: { server: kube.url, token: () => SA_TOKEN, ca: kubeTls.caCert },
    log: pino({ level: LOG }),
    backoff: { baseMs: 20, maxMs: 200 },
  });
  await agent.connected();
  agents.push(agent);
}

const kubectl = (env: Record<string, string>, args: string[]) => runKubectl(kubectlBin, args, { env, timeoutMs: 30_000 });

beforeAll(async () => {
  pg = await startPostgres();
  dbUrl = await pg.createDatabase();
  work = mkdtempSync(join(tmpdir(), 'ztsh-ha-'));
  tls = await createTestTls();
  writeFileSync(join(work, 'tls.crt'), tls.cert);
  writeFileSync(join(work, 'tls.key'), tls.key, { mode: 0o600 });
  caFile = join(work, 'ca.crt');
  writeFileSync(caFile, tls.caCert);
  // The front first: the replicas must know the one public address.
  front = await startHaproxy([], { healthPath: '/readyz' });
  publicUrl = new URL(`https://localhost:${front.port}`);
  agentFront = await startHaproxy([], { healthPath: '/readyz' });
  agentUrl = new URL(`https://localhost:${agentFront.port}`);
  idp = await startDevIdp({
    publicHost: 'localhost',
    tls: { cert: tls.cert, key: tls.key },
    users: USERS.map((u) => ({ username: u.username, password: u.password, email: `${u.username}@example.com`, name: u.username, groups: [...u.groups] })),
    clients: [{ clientId: 'ztsh', clientSecret: CLIENT_SECRET, redirectUris: [new URL('/oidc/callback', publicUrl).toString()] }],
  });
  // Started together: migrations and the CA pair must come out the same under the race.
  await Promise.all(['r1', 'r2', 'r3'].map((n) => startReplica(n)));
  await all();
  await agentsToAll();
  await addAgent('sandbox', { env: 'sandbox' });
  await addAgent('staging', { env: 'staging' });
  await agentsOnEveryReplica();
  doubles.sandbox.addPod('default', 'web-1', { logs: ['started'] });
  doubles.staging.addPod('default', 'db-1', { logs: ['ready'] });
  for (const user of USERS.slice(0, 3)) envOf[user.username] = await loggedIn(user);
  for (const cluster of ['sandbox', 'staging']) {
    const r = await cli(['kube', 'login', cluster], envOf.alice!);
    if (r.code !== 0) throw new Error(`ztsh kube login ${cluster}: ${r.stderr}`);
  }
}, 240_000);

afterAll(async () => {
  for (const a of agents) await a.stop();
  for (const r of replicas) r.child.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
  await front?.stop();
  await agentFront?.stop();
  await idp?.close();
  for (const d of Object.values(doubles)) await d.close();
  await pg?.stop();
});

describe('three replicas on PostgreSQL behind haproxy', () => {
  it('every replica serves both clusters to kubectl', async () => {
    for (const r of live()) {
      await only(r);
      for (const [context, pod] of [['localhost-sandbox', 'web-1'], ['localhost-staging', 'db-1']] as const) {
        const got = await kubectl(envOf.alice!, ['--context', context, 'get', 'pods']);
        expect(got.code, `${r.name} ${context}: ${got.stderr}`).toBe(0);
        expect(got.stdout).toContain(pod);
      }
    }
    await all();
  });

  it('a browser login started on one replica is called back on another and finished on a third', async () => {
    const [r1, r2, r3] = live() as [Replica, Replica, Replica];
    const steps: string[] = [];
    const result = await login(USERS[3], async (step) => {
      const r = { start: r1, callback: r2, mfa: r3, exchange: r1 }[step]!;
      steps.push(`${step}@${r.name}`);
      await only(r);
    });
    expect(steps).toEqual([`start@${r1.name}`, `callback@${r2.name}`, `mfa@${r3.name}`, `exchange@${r1.name}`]);
    expect(result.json).toMatchObject({ user: 'erin', roles: ['developer'], mfaVerified: true });
    await all();
    // The certificate works through any replica.
    const home = newZtshHome();
    storeLogin(home, publicUrl, tls.caCert, result);
    const ls = await cliJson<{ name: string; online: boolean }[]>(['kube', 'ls'], { PATH: process.env.PATH!, HOME: home, ZTSH_HOME: home });
    expect(ls.map((c) => c.name).sort()).toEqual(['sandbox', 'staging']);
  });

  it('a lock made through one replica ends a live exec and a live get -w on another, before a 1 s timer fires', async () => {
    const [r1, r2] = live() as [Replica, Replica];
    // frank is a developer like alice, so the lock on him leaves alice alone for the tests after this one.
    const home = newZtshHome();
    storeLogin(home, publicUrl, tls.caCert, await login(USERS[4]));
    const frank = { PATH: process.env.PATH!, HOME: home, ZTSH_HOME: home, KUBECONFIG: join(home, 'kubeconfig') };
    expect((await cli(['kube', 'login', 'sandbox'], frank)).code).toBe(0);

    await only(r2);
    const exec = spawn(kubectlBin, ['exec', '-i', 'web-1', '--', 'cat'], { env: frank, stdio: ['pipe', 'pipe', 'pipe'] });
    let execOut = '';
    exec.stdout.on('data', (d: Buffer) => (execOut += d.toString()));
    const execEnded = new Promise<string>((resolve) => exec.once('close', () => resolve('exec ended')));
    exec.stdin.write('exec is live\n');
    await expect.poll(() => execOut, { timeout: 15_000 }).toContain('exec is live');
    const watch = startKubectl(kubectlBin, ['get', 'pods', '-w'], frank);
    await watch.waitFor(/web-1/);
    const watchEnded = new Promise<string>((resolve) => watch.child.once('close', () => resolve('watch ended')));

    await only(r1);
    const locked = await cli(['lock', 'add', '--user', 'frank', '--message', 'ha test'], envOf.bob!);
    expect(locked.code, locked.stderr).toBe(0);
    // The lock is in the store once `ztsh lock add` has exited; a timer started then is an upper
    // bound on how long it takes to reach r2 (the CLI's own exit adds to it, never takes from it).
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve('1 s timer'), 1_000));
    const order = await Promise.all([Promise.race([execEnded, timer]), Promise.race([watchEnded, timer])]);
    expect(order).toEqual(['exec ended', 'watch ended']);
    exec.kill();
    await watch.stop();
    await all();
  });

  it('after kill -9 of the replica holding a kubectl connection, the next kubectl succeeds within 5 s and the agents serve from the rest', async () => {
    const victim = live()[2]!;
    await only(victim);
    const watch = startKubectl(kubectlBin, ['--context', 'localhost-sandbox', 'get', 'pods', '-w'], envOf.alice!);
    await watch.waitFor(/web-1/);
    // The front knows all three again (the victim keeps its slot, so the watch's connection stays on it).
    await front.setBackends([victim, ...live().filter((r) => r !== victim)].map((r) => r.backend));
    await kill9(victim);
    await watch.stop();
    const next = await kubectl(envOf.alice!, ['--context', 'localhost-staging', '--request-timeout=5s', 'get', 'pods']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('db-1');
    // Each remaining replica still serves both clusters: the agents hold tunnels to them.
    for (const r of live()) {
      await only(r);
      for (const context of ['localhost-sandbox', 'localhost-staging']) {
        const got = await kubectl(envOf.alice!, ['--context', context, '--request-timeout=5s', 'get', 'pods']);
        expect(got.code, `${r.name} ${context}: ${got.stderr}`).toBe(0);
      }
    }
    const clusters = await cliJson<{ name: string; online: boolean }[]>(['kube', 'ls'], envOf.alice!);
    expect(clusters.filter((c) => c.online).map((c) => c.name).sort()).toEqual(['sandbox', 'staging']);
    await startReplica('r4');
    await all();
    await agentsOnEveryReplica();
  });

  it('1,000 audited requests over the replicas, one killed mid-way: every answered one is in the log, and audit verify passes', async () => {
    await all();
    const victim = live()[0]!;
    const answered = new Set<string>();
    const outcomes = new Map<string, number>();
    let next = 0;
    const one = (n: number) =>
      new Promise<void>((resolve) => {
        // A new connection each time, so haproxy spreads them over the replicas.
        const req = httpsRequest(
          { host: '127.0.0.1', port: front.port, servername: 'localhost', ca: tls.caCert, ...aliceCert, agent: false, path: `/k8s/sandbox/api/v1/namespaces/default/pods/ha-${n}`, method: 'GET' },
          (res) => {
            res.resume();
            res.once('end', () => {
              outcomes.set(String(res.statusCode), (outcomes.get(String(res.statusCode)) ?? 0) + 1);
              if (res.statusCode === 404 || res.statusCode === 200) answered.add(`ha-${n}`);
              resolve();
            });
            res.once('error', () => resolve());
          },
        );
        req.once('error', (e: NodeJS.ErrnoException) => {
          outcomes.set(e.code ?? e.message, (outcomes.get(e.code ?? e.message) ?? 0) + 1);
          resolve();
        });
        req.end();
      });
    let killed: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 1000) {
          const n = next++;
          if (n === 500) killed = kill9(victim);
          await one(n);
        }
      }),
    );
    await killed;
    expect(answered.size, JSON.stringify([...outcomes])).toBeGreaterThan(900);
    const lines = (await cli(['audit', 'export'], envOf.carol!)).stdout.trim().split('\n');
    const logged = new Set(lines.map((l) => JSON.parse(l) as { type: string; fields: { name?: string } }).filter((e) => e.type === 'kube.request').map((e) => e.fields.name));
    const missing = [...answered].filter((name) => !logged.has(name));
    expect(missing).toEqual([]);
    const verify = await cli(['audit', 'verify', '--format', 'json'], envOf.carol!);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
    await startReplica('r5');
    await all();
    await agentsOnEveryReplica();
    // A thousand requests, a full export and a verify, and a new replica: minutes on a loaded 2-core machine.
  }, 240_000);

  it('an exec recorded on a replica that is then killed replays from another, up to one second before the kill', async () => {
    const victim = live()[0]!;
    await only(victim);
    const exec = spawn(kubectlBin, ['--context', 'localhost-sandbox', 'exec', '-i', 'web-1', '--', 'cat'], { env: envOf.alice!, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    exec.stdout.on('data', (d: Buffer) => (out += d.toString()));
    exec.stdin.write('recorded before the kill\n');
    await expect.poll(() => out, { timeout: 15_000 }).toContain('recorded before the kill');
    // Recordings are flushed at least every second: what was shown more than a second before
    // the kill must survive it. This wait is that second, not a guess at how long something takes.
    await new Promise((r) => setTimeout(r, 1_100));
    await kill9(victim);
    exec.kill();
    await all();
    const sessions = await cliJson<{ id: string; kind: string }[]>(['recordings', 'ls', '--user', 'alice', '--kind', 'exec', '--limit', '1'], envOf.carol!);
    expect(sessions).toHaveLength(1);
    const played = await cli(['play', sessions[0]!.id, '--format', 'text'], envOf.carol!);
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toContain('recorded before the kill');
  });
});
