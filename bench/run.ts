// pnpm bench: speed figures, each measured against a baseline in the same
// run (machines are noisy; ratios travel, absolute numbers do not): CA
// issuance against raw signing, full logins, small kube GETs and an exec
// stdout stream through proxy + tunnel + agent against the same sent to the
// apiserver double, what session recording costs an exec stream and how much
// it keeps of a busy interactive shell, what an idle agent tunnel costs the
// proxy in memory, and audit search over a million events; and, from the
// build (pnpm bench builds first), what the credential plugin adds to each
// kubectl command and what the proxy needs in memory run apart from auth;
// and the whole `kubectl get pods` through ztsh against direct and against
// `kubectl proxy`, each part in its own process (kubectl-command.ts); and,
// for several replicas on PostgreSQL: audit search on PostgreSQL, how long
// a lock takes to reach another replica, and GETs through one replica
// against two behind haproxy.
//   pnpm bench          human-readable table
//   pnpm bench --json   the same as JSON (also written to bench/results/)
//   pnpm bench --only get,kubectl   only those groups: issuance, credentials,
//                       kubectl, get, split, logins, streams, idle, audit,
//                       audit-pg, locks, replicas
import 'reflect-metadata';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, ManualClock, systemClock } from '@ztsh/auth';
import type { Identity, SessionRecord } from '@ztsh/protocol';
import { DEV_USERS, startDevStack } from '@ztsh/server';
import { httpLogin } from '../test/helpers/http-login.ts';
import { measureAuditSearch, type AuditEngine } from './audit-search.ts';
import { measureCredentialPlugin } from './credential-plugin.ts';
import { measureSessionMfaPlugin } from './session-mfa-plugin.ts';
import { measureKubectlCommand } from './kubectl-command.ts';
import { cpuSeconds, measureKubeGet, type PathFigures } from './kube-get.ts';
import { SA_TOKEN, startDeployed, type Deployed } from './deployed.ts';
import { measureLockPropagation } from './lock-propagation.ts';
import { measureReplicaGet } from './replica-get.ts';
import { execStream, type StreamTarget } from './exec-stream.ts';
import { measureIdleTunnels, openFilesLimit } from './idle-tunnels.ts';
import { interactiveSession } from './interactive-session.ts';
import { APP_CONFIG, APP_LOG } from './pod-files.ts';
import { measureSplitRss } from './split-rss.ts';

interface Result {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  ratio?: number;
  goal?: string;
  met?: boolean;
}

const json = process.argv.includes('--json');
/** `--only get,kubectl`: just those groups of rows (names below), e.g. to measure one change. */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : undefined;
const want = (group: string) => !only || only.has(group);
const results: Result[] = [];
/** What a row sums up, for the JSON report (the table shows it as progress lines). */
const details: Record<string, unknown> = {};
const say = (text: string) => {
  if (!json) process.stdout.write(text);
};

/** Runs fn repeatedly for about `ms` and returns operations per second. */
async function rate(fn: () => unknown, ms = 2000): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(); // warm up
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    await fn();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function benchIssuance(): Promise<void> {
  say('CA issuance (ECDSA P-256)…\n');
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-ca-'));
  const ca = await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'bench', clock: systemClock });
  const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const publicKey = checkPublicKey(publicKeyPem);
  const identity: Identity = {
    v: 1,
    user: 'alice',
    roles: ['developer'],
    kubernetesUsers: [],
    kubernetesGroups: ['developers'],
    traits: { groups: ['developers'], email: ['alice@example.com'] },
    mfaVerified: true,
    mfaMethod: 'totp',
    loginId: 'bench',
    connector: 'dev',
    issuedForIp: '127.0.0.1',
  };
  const tbsSized = Buffer.alloc(520, 7); // a user certificate's TBS is about this long
  const raw = await rate(() => sign('sha256', tbsSized, { key: ca.signingKey, dsaEncoding: 'der' }));
  const issue = () => {
    const now = Date.now();
    return issueCertificate({ ca, publicKey, identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + 8 * 3_600_000) });
  };
  const certs = await rate(issue);
  const withCheck = await rate(() => {
    checkPublicKey(publicKeyPem);
    return issue();
  });
  const baseline = { name: 'raw ECDSA P-256 signatures/s (node:crypto)', value: raw };
  results.push({ name: 'certificates issued/s', value: certs, unit: 'ops/s', baseline, ratio: certs / raw, goal: '>= 25% of raw', met: certs / raw >= 0.25 });
  results.push({ name: 'certificates issued/s incl. public-key parse + check', value: withCheck, unit: 'ops/s', baseline, ratio: withCheck / raw });
  rmSync(dir, { recursive: true, force: true });
}

async function benchLogins(): Promise<void> {
  say('Full logins over HTTPS (start, IdP form, TOTP, exchange)…\n');
  const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-bench-stack-'));
  // TOTP codes are single use per 30 s step: the clock moves one step per login.
  const clock = new ManualClock(Date.now());
  const stack = await startDevStack({ dataDir, port: 0, log: pino({ level: 'silent' }), clock });
  const ca = stack.ztshd.tls.selfSignedCa!;
  const alice = DEV_USERS[0]!;
  const one = async () => {
    clock.advance(30_000);
    const r = await httpLogin(stack.url, ca, alice, clock.now().getTime());
    if (r.status !== 200) throw new Error(`login failed: ${JSON.stringify(r.json)}`);
  };
  for (let i = 0; i < 3; i++) await one();
  const n = 30;
  const start = performance.now();
  for (let i = 0; i < n; i++) await one();
  const perSec = n / ((performance.now() - start) / 1000);
  results.push({ name: 'full HTTP-driven logins/s (sequential)', value: perSec, unit: 'ops/s' });
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
}

async function benchKubeGet(): Promise<void> {
  say('Small GETs at concurrency 64 and 1: direct, through kubectl proxy, through ztsh (WebSocket and direct tunnel), each part and the load generator in its own process…\n');
  const r = await measureKubeGet({ say });
  details.kubeGet = r;
  const { direct } = r.paths;
  const peer = r.paths['kubectl proxy'];
  const cpu = (p: PathFigures, ...names: string[]) => names.reduce((sum, n) => sum + (p.cpuUsPerRequest[n] ?? 0), 0);
  const peerCpu = cpu(peer, 'kubectl proxy');
  const peerAdded = peer.p50Ms - direct.p50Ms;
  say(`  CPU µs per request (median of ${r.rounds}): kubectl proxy ${peerCpu.toFixed(0)}; ${(['ztsh', 'ztsh, direct tunnel'] as const).map((p) => `${p}: ztshd ${cpu(r.paths[p], 'ztshd').toFixed(0)} + agent ${cpu(r.paths[p], 'agent').toFixed(0)}`).join('; ')}; apiserver double ${cpu(direct, 'apiserver').toFixed(0)} direct, ${cpu(peer, 'apiserver').toFixed(0)} via kubectl proxy, ${cpu(r.paths.ztsh, 'apiserver').toFixed(0)} via ztsh\n`);
  const alone = (p: PathFigures, name: string) => (p.cpuUsPerRequestAlone[name] ?? 0).toFixed(0);
  say(`  CPU µs per request at c=1 (median of ${r.rounds}): kubectl proxy ${alone(peer, 'kubectl proxy')}; ${(['ztsh', 'ztsh, direct tunnel'] as const).map((p) => `${p}: ztshd ${alone(r.paths[p], 'ztshd')} + agent ${alone(r.paths[p], 'agent')}`).join('; ')}; apiserver double ${alone(direct, 'apiserver')} direct, ${alone(peer, 'apiserver')} via kubectl proxy, ${alone(r.paths.ztsh, 'apiserver')} via ztsh\n`);
  results.push({ name: 'GET requests/s through kubectl proxy (c=64)', value: peer.requestsPerSecond, unit: 'req/s', baseline: { name: 'direct req/s', value: direct.requestsPerSecond }, ratio: peer.requestsPerSecond / direct.requestsPerSecond });
  for (const [path, how] of [['ztsh', ''], ['ztsh, direct tunnel', 'direct tunnel, ']] as const) {
    const ztsh = r.paths[path];
    const rps = ztsh.requestsPerSecond / peer.requestsPerSecond;
    results.push({ name: `GET requests/s through ztsh (${how}c=64)`, value: ztsh.requestsPerSecond, unit: 'req/s', baseline: { name: 'kubectl proxy req/s', value: peer.requestsPerSecond }, ratio: rps, goal: '>= 0.75x kubectl proxy', met: rps >= 0.75 });
    const ztshCpu = cpu(ztsh, 'ztshd', 'agent');
    const cpuRatio = ztshCpu / peerCpu;
    results.push({ name: `CPU per GET in ztshd + agent (${how}c=64)`, value: ztshCpu, unit: 'µs', baseline: { name: 'kubectl proxy µs', value: peerCpu }, ratio: cpuRatio, goal: '<= 2x kubectl proxy', met: cpuRatio <= 2 });
    const added = ztsh.p50Ms - direct.p50Ms;
    results.push({ name: `GET p50 added by ztsh (${how}c=1)`, value: added, unit: 'ms', baseline: { name: 'added by kubectl proxy ms', value: peerAdded }, ratio: added / peerAdded, goal: '<= 0.4 ms', met: added <= 0.4 });
    results.push({ name: `GET p99 through ztsh (${how}c=1)`, value: ztsh.p99Ms, unit: 'ms', baseline: { name: 'direct p99 ms', value: direct.p99Ms }, ratio: ztsh.p99Ms / direct.p99Ms });
  }
}

const MiB = 2 ** 20;

/** A cluster through ztshd + tunnel + agent, as alice: `sandbox` over the WebSocket tunnel, `sandbox-direct` over the direct one. */
function throughZtsh(d: Deployed, cluster = 'sandbox'): StreamTarget {
  return { base: new URL(`/k8s/${cluster}/`, d.ztshd.url), options: { ca: d.ztshd.tlsCa, cert: d.alice.json.certificate as string, key: d.alice.keys.privateKey } };
}

const setRecording = (d: Deployed, on: boolean) => d.ztshd.ask({ op: 'recording', on });

/**
 * CPU ms per MiB streamed that ztshd and the agent each spent while `run` streamed `bytes`, and
 * all the processes of the path together (the apiserver double and this process, the client, too).
 */
async function cpuPerMiB<T>(d: Deployed, agentPid: number, bytes: number, run: () => Promise<T>): Promise<{ result: T; ztshd: number; agent: number; all: number }> {
  const pids = [d.ztshd.pid, agentPid, d.apiserver.pid];
  const own = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const before = [...pids.map(cpuSeconds), own()];
  const result = await run();
  const spent = [...pids.map(cpuSeconds), own()].map((s, i) => ((s - before[i]!) * 1000) / (bytes / MiB));
  return { result, ztshd: spent[0]!, agent: spent[1]!, all: spent.reduce((a, b) => a + b, 0) };
}

async function benchExecStream(d: Deployed): Promise<void> {
  say('exec stdout stream (head -c N /dev/zero over v5.channel.k8s.io), directly and through ztshd + tunnel + agent, each part in its own process…\n');
  const direct: StreamTarget = { base: new URL(d.apiserver.url), options: { ca: d.apiserver.caCert, headers: { authorization: `Bearer ${SA_TOKEN}` } } };
  // A warm-up run picks the size of the measured runs: about 2 s each at its speed, 32 to 512 MiB.
  const best = async (name: string, t: StreamTarget, agentPid?: number) => {
    const warm = await execStream(t, 'default', 'web-1', 16 * MiB);
    const bytes = MiB * Math.round(Math.min(512, Math.max(32, (warm.mbPerSec * 1e6 * 2) / MiB)));
    let mbPerSec = 0;
    const cpu = { ztshd: Infinity, agent: Infinity };
    for (let i = 0; i < 2; i++) {
      // Straight to the apiserver, ztshd and the agent sit idle: their figures are not printed.
      const r = await cpuPerMiB(d, agentPid ?? d.agent.pid, bytes, () => execStream(t, 'default', 'web-1', bytes));
      mbPerSec = Math.max(mbPerSec, r.result.mbPerSec);
      cpu.ztshd = Math.min(cpu.ztshd, r.ztshd);
      cpu.agent = Math.min(cpu.agent, r.agent);
    }
    const cpuText = agentPid === undefined ? '' : `; CPU per MiB (least of 2): ztshd ${cpu.ztshd.toFixed(1)} ms, agent ${cpu.agent.toFixed(1)} ms`;
    say(`  ${name}: 2 × ${bytes / MiB} MiB, best ${mbPerSec.toFixed(1)} MB/s${cpuText}\n`);
    return { mbPerSec, cpu };
  };
  await setRecording(d, true);
  const rounds = { direct: await best('direct', direct), ztsh: await best('through ztsh, recording on', throughZtsh(d), d.agent.pid), ztshDirect: await best('through ztsh over the direct tunnel, recording on', throughZtsh(d, 'sandbox-direct'), d.agentDirect.pid) };
  details.execStream = rounds;
  for (const [path, how] of [['ztsh', ' through ztsh'], ['ztshDirect', ', direct tunnel']] as const) {
    const p = rounds[path].mbPerSec;
    const base = rounds.direct.mbPerSec;
    results.push({ name: `exec stdout MB/s${how}, recording on`, value: p, unit: 'MB/s', baseline: { name: 'direct MB/s', value: base }, ratio: p / base, goal: '>= 50% of direct', met: p / base >= 0.5 });
  }
}

/** Size of the pod's application log: the most a text stream run reads. */
const LOG_MIB = 128;

/**
 * What recording costs an exec stream: the same stream through ztsh with the session recording off
 * and on (`.ztrec.gz`), alternating. `what` names the stream: printable text (the pod's log)
 * or NULs (/dev/zero).
 */
async function benchRecordingCost(d: Deployed, what: 'text' | 'NULs'): Promise<void> {
  const file = what === 'text' ? APP_LOG : '/dev/zero';
  say(`exec stdout of ${what === 'text' ? 'printable text' : 'NULs'} (head -c N ${file}) through ztsh, session recording off and on, alternating…\n`);
  const proxied = throughZtsh(d);
  const cpu = { off: Infinity, on: Infinity };
  const cpuAll = { off: Infinity, on: Infinity };
  const run = async (recording: boolean, bytes: number) => {
    await setRecording(d, recording);
    try {
      const r = await cpuPerMiB(d, d.agent.pid, bytes, () => execStream(proxied, 'default', 'web-1', bytes, file));
      const key = recording ? 'on' : 'off';
      cpu[key] = Math.min(cpu[key], r.ztshd);
      cpuAll[key] = Math.min(cpuAll[key], r.all);
      return r.result.mbPerSec;
    } finally {
      await setRecording(d, true);
    }
  };
  await run(true, 8 * MiB);
  const warm = await run(false, 16 * MiB);
  // About 2 s a run at the speed without recording, 16 MiB to the whole log (or 512 MiB of NULs).
  const bytes = MiB * Math.round(Math.min(what === 'text' ? LOG_MIB : 512, Math.max(16, (warm * 1e6 * 2) / MiB)));
  const best = { off: 0, on: 0 };
  for (const round of [[false, true], [true, false], [false, true]]) {
    for (const recording of round) {
      const mbPerSec = await run(recording, bytes);
      const key = recording ? 'on' : 'off';
      best[key] = Math.max(best[key], mbPerSec);
    }
  }
  const recorded = await lastSession(d, (s) => s.recordingSize !== null);
  say(`  3 × ${bytes / MiB} MiB each way: recording off best ${best.off.toFixed(1)} MB/s, on best ${best.on.toFixed(1)} MB/s; CPU per MiB (least of 3), ztshd off ${cpu.off.toFixed(1)} ms, on ${cpu.on.toFixed(1)} ms, all processes off ${cpuAll.off.toFixed(1)} ms, on ${cpuAll.on.toFixed(1)} ms; the last recording is ${(recorded.recordingSize! / MiB).toFixed(2)} MiB for ${(recorded.bytesOut / MiB).toFixed(0)} MiB of stdout\n`);
  details[`recording${what === 'text' ? 'Text' : 'Nuls'}`] = { bytes, ...best, ztshdCpuMsPerMiB: cpu, allCpuMsPerMiB: cpuAll, recordingBytes: recorded.recordingSize, stdoutBytes: recorded.bytesOut };
  results.push({ name: `exec ${what} MB/s through ztsh, recording on (best of 3)`, value: best.on, unit: 'MB/s', baseline: { name: 'recording off MB/s', value: best.off }, ratio: best.on / best.off, goal: '>= 90% of off', met: best.on / best.off >= 0.9 });
}

/** alice's newest session once it has ended and `done` holds for it (the proxy stores the end after the socket closes). */
async function lastSession(d: Deployed, done: (s: SessionRecord) => boolean): Promise<SessionRecord> {
  let session: SessionRecord | null = null;
  for (let i = 0; i < 250; i++) {
    session = (await d.ztshd.ask({ op: 'lastSession', user: 'alice' })) as SessionRecord | null;
    if (session?.endedAt && done(session)) return session;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`alice's last session did not end: ${JSON.stringify(session)}`);
}

/** What an engineer types and looks at in a minute or so of debugging a pod. */
const BUSY_COMMANDS = [
  'ls /app',
  `cat ${APP_CONFIG}`,
  `head -n 20 ${APP_LOG}`,
  'ls /var/log/app',
  'cat /etc/resolv.conf',
  'echo checking',
  `head -n 5 ${APP_LOG}`,
  'cat /etc/hostname',
  'ls /tmp',
];
const PACE = { keysPerSecond: 12, readMs: 400 };

async function benchInteractiveRecording(d: Deployed): Promise<void> {
  say(`Recording of a busy interactive sh through ztsh (tty, keys typed one by one at ${PACE.keysPerSecond}/s, output awaited, ${PACE.readMs} ms to read it)…\n`);
  await setRecording(d, true);
  const run = await interactiveSession(throughZtsh(d), 'default', 'web-1', BUSY_COMMANDS, PACE);
  const session = await lastSession(d, (s) => s.recordingSize !== null && s.tty);
  const recordingSize = session.recordingSize!;
  const minutes = (session.endedAt! - session.startedAt) / 60_000;
  const perMinute = recordingSize / 1024 / minutes;
  const streamPerMinute = (session.bytesIn + session.bytesOut) / 1024 / minutes;
  say(`  ${run.commands} commands, ${run.keys} keys in ${(minutes * 60).toFixed(1)} s: recording ${(recordingSize / 1024).toFixed(1)} KiB, stdin+stdout ${((session.bytesIn + session.bytesOut) / 1024).toFixed(1)} KiB; at this pace ≈ ${((perMinute * 60 * 8) / 1024).toFixed(1)} MiB per 8-hour day\n`);
  results.push({ name: 'recording KiB/min, busy interactive sh (tty)', value: perMinute, unit: 'KiB/min', baseline: { name: 'stdin+stdout KiB/min', value: streamPerMinute }, ratio: perMinute / streamPerMinute });
}

const IDLE_AGENTS = 1000;

async function benchIdleTunnels(): Promise<void> {
  // Each agent holds a socket in this process and the proxy one in its own; keep room for the rest.
  const limit = openFilesLimit();
  const agents = limit === undefined ? IDLE_AGENTS : Math.min(IDLE_AGENTS, limit - 256);
  if (agents < IDLE_AGENTS) say(`  ulimit -n is ${limit}: measuring ${agents} agents instead of ${IDLE_AGENTS} (raise it with ulimit -n 4096)\n`);
  say(`Proxy memory with ${agents} idle agent tunnels (proxy in a child process, agents here)…\n`);
  const r = await measureIdleTunnels(agents);
  say(`  ${agents} agents connected in ${r.connectSeconds.toFixed(1)} s\n`);
  const perTunnel = (bytes: number) => bytes / 1024 / agents;
  const rss = perTunnel(r.after.rss - r.before.rss);
  const js = perTunnel(r.after.heapUsed + r.after.external - (r.before.heapUsed + r.before.external));
  // RSS alone swings by ±15 KiB per tunnel from run to run: V8 and the malloc arenas hand back
  // memory left from before the baseline (the joins) at times of their own. What the tunnels
  // hold is what grew in the two places their objects live: the brk malloc heap (the TLS
  // connection's native side) and the live JS heap.
  const native = perTunnel(r.mallocHeap.after - r.mallocHeap.before);
  const held = native + js;
  say(`  per tunnel: malloc heap ${native.toFixed(1)} KiB + JS heap and external ${js.toFixed(1)} KiB = ${held.toFixed(1)} KiB held; RSS grew ${rss.toFixed(1)} KiB per tunnel\n`);
  results.push({ name: `proxy memory held per idle agent tunnel (${agents} agents, malloc + JS)`, value: held, unit: 'KiB', baseline: { name: 'proxy RSS MiB before them', value: r.before.rss / MiB }, goal: '<= 50 KiB', met: held <= 50 });
  results.push({ name: 'proxy malloc heap per idle agent tunnel', value: native, unit: 'KiB', baseline: { name: 'malloc heap MiB before them', value: r.mallocHeap.before / MiB } });
  results.push({ name: 'proxy RSS per idle agent tunnel (swings, see bench/README.md)', value: rss, unit: 'KiB', baseline: { name: 'proxy RSS MiB before them', value: r.before.rss / MiB } });
  results.push({ name: 'proxy heap+external per idle agent tunnel', value: js, unit: 'KiB', baseline: { name: 'heap+external MiB before them', value: (r.before.heapUsed + r.before.external) / MiB } });
}

const AUDIT_EVENTS = 1_000_000;

async function benchAuditSearch(engine: AuditEngine): Promise<void> {
  const store = engine === 'sqlite' ? 'SQLite, hash chain + FTS5' : 'PostgreSQL, a server of its own: hash chain + trigram index';
  say(`Audit search over ${AUDIT_EVENTS / 1e6}M generated events (${store}), auditors' queries…\n`);
  const r = await measureAuditSearch(AUDIT_EVENTS, say, engine);
  details[engine === 'sqlite' ? 'auditSearchKinds' : 'auditSearchKindsPostgres'] = r.kinds;
  const on = engine === 'sqlite' ? '' : ' on PostgreSQL';
  const baseline = { name: 'primary-key lookup p50 ms', value: r.primaryKeyP50 };
  results.push({ name: `audit events appended/s${on} (${AUDIT_EVENTS / 1e6}M, batches of 10k)`, value: AUDIT_EVENTS / r.generateSeconds, unit: 'events/s' });
  results.push({ name: `audit search p50${on} (${AUDIT_EVENTS / 1e6}M events, ${r.kinds.length} query kinds)`, value: r.p50, unit: 'ms', baseline });
  results.push({ name: `audit search p95${on} (${AUDIT_EVENTS / 1e6}M events, ${r.kinds.length} query kinds)`, value: r.p95, unit: 'ms', baseline, goal: '<= 50 ms', met: r.p95 <= 50 });
}

async function benchLockPropagation(): Promise<void> {
  say('Lock propagation: 2 ztshd replicas (each its own process) on one PostgreSQL, alice watching pods through B, bob locking her through A, 30 rounds…\n');
  const r = await measureLockPropagation({ say });
  details.lockPropagation = r;
  const pct = (p: number) => r.endedMs[Math.min(r.endedMs.length - 1, Math.floor((p / 100) * r.endedMs.length))]!;
  say(`  POST /v1/locks answered in ${r.postMsP50.toFixed(1)} ms (median); after the removal, B let alice in again within ${r.unlockedMsP50.toFixed(0)} ms (median)\n`);
  const baseline = { name: 'POST /v1/locks answered p50 ms', value: r.postMsP50 };
  results.push({ name: `lock to watch end on another replica p50 (${r.rounds} rounds)`, value: pct(50), unit: 'ms', baseline, ratio: pct(50) / r.postMsP50 });
  results.push({ name: `lock to watch end on another replica p99 (${r.rounds} rounds)`, value: pct(99), unit: 'ms', baseline, ratio: pct(99) / r.postMsP50, goal: '<= 1 s', met: pct(99) <= 1000 });
}

async function benchReplicaGet(): Promise<void> {
  say('Small GETs at concurrency 64 over 8 connections through haproxy: 1 ztshd replica, then 2 (each its own process, on one PostgreSQL; agent, apiserver double and load generator in their own)…\n');
  const r = await measureReplicaGet({ say });
  details.replicaGet = r;
  const one = r.layouts['1 replica'];
  const two = r.layouts['2 replicas'];
  const cpu = (l: typeof one) => Object.entries(l.cpuUsPerRequest).map(([n, us]) => `${n} ${us.toFixed(0)}`).join(', ');
  say(`  CPU µs per request (median of ${r.rounds}): 1 replica: ${cpu(one)}; 2 replicas: ${cpu(two)}\n`);
  for (const [name, l] of Object.entries(r.layouts)) if (l.errors) say(`  ${name}: ${l.errors} requests failed (first: ${l.firstError}); haproxy cuts a replica's connections when it misses one health check\n`);
  say(`  ${r.cores} cores, shared by every part above, PostgreSQL and whatever else runs on the machine: busy ${(100 * one.machineBusy).toFixed(0)}% with 1 replica, ${(100 * two.machineBusy).toFixed(0)}% with 2\n`);
  results.push({ name: `GET requests/s through 2 replicas behind haproxy (c=64, ${r.cores} cores)`, value: two.requestsPerSecond, unit: 'req/s', baseline: { name: '1 replica behind haproxy req/s', value: one.requestsPerSecond }, ratio: two.requestsPerSecond / one.requestsPerSecond });
}

async function benchCredentialPlugin(): Promise<void> {
  say('ztsh kube credentials (the built CLI, as kubectl runs it) against a bare node -e 0, alternating…\n');
  const r = await measureCredentialPlugin();
  details.credentialPlugin = r;
  const ratio = r.pluginMs / r.nodeMs;
  results.push({ name: 'ztsh kube credentials wall time (median)', value: r.pluginMs, unit: 'ms', baseline: { name: 'node -e 0 ms', value: r.nodeMs }, ratio, goal: '<= 200% of node -e 0', met: ratio <= 2 });
  say('ztsh kube credentials --session-mfa with a cached session MFA certificate against the plain plugin, alternating; kubectl without a terminal…\n');
  const s = await measureSessionMfaPlugin();
  details.sessionMfaPlugin = s;
  const cachedRatio = s.cachedMs / s.plainMs;
  results.push({ name: 'ztsh kube credentials --session-mfa, cached certificate (median)', value: s.cachedMs, unit: 'ms', baseline: { name: 'plain plugin ms', value: s.plainMs }, ratio: cachedRatio, goal: '<= 1.2x the plain plugin', met: cachedRatio <= 1.2 });
  if (s.kubectlRefusalMs !== undefined) {
    results.push({ name: 'kubectl 1.33 session MFA refusal without a terminal, whole command (median)', value: s.kubectlRefusalMs, unit: 'ms', baseline: { name: 'plain plugin ms', value: s.plainMs }, ratio: s.kubectlRefusalMs / s.plainMs, goal: '<= 2000 ms', met: s.kubectlRefusalMs <= 2000 });
  }
}

async function benchKubectlCommand(): Promise<void> {
  say('Whole kubectl get pods: direct, through kubectl proxy, through ztsh (certificate file), each part in its own process…\n');
  const r = await measureKubectlCommand();
  say(`  kubectl ${r.version}, median of ${r.runs} each: direct ${r.directMs.toFixed(1)} ms, kubectl proxy ${r.kubectlProxyMs.toFixed(1)} ms, ztsh ${r.ztshMs.toFixed(1)} ms\n`);
  details.kubectlCommand = r;
  const ratio = r.ztshMs / r.directMs;
  results.push({ name: `kubectl ${r.version} get pods through ztsh, whole command (median)`, value: r.ztshMs, unit: 'ms', baseline: { name: 'direct ms', value: r.directMs }, ratio, goal: '<= 1.2x direct', met: ratio <= 1.2 });
  results.push({ name: `kubectl ${r.version} get pods through kubectl proxy, whole command (median)`, value: r.kubectlProxyMs, unit: 'ms', baseline: { name: 'direct ms', value: r.directMs }, ratio: r.kubectlProxyMs / r.directMs });
}

async function benchSplitRss(): Promise<void> {
  say('ztshd from dist, RSS: all in one, then auth and the proxy apart…\n');
  const r = await measureSplitRss();
  details.splitRss = r;
  results.push({ name: 'proxy RSS, run apart from auth', value: r.proxyAloneKiB / 1024, unit: 'MiB', baseline: { name: 'all-in-one ztshd MiB', value: r.allInOneKiB / 1024 }, ratio: r.proxyAloneKiB / r.allInOneKiB });
}

if (want('issuance')) await benchIssuance();
if (want('credentials')) await benchCredentialPlugin();
if (want('kubectl')) await benchKubectlCommand();
if (want('get')) await benchKubeGet();
if (want('split')) await benchSplitRss();
if (want('logins')) await benchLogins();
if (want('streams')) {
  const d = await startDeployed('1.33', { podLogBytes: LOG_MIB * MiB });
  try {
    await benchExecStream(d);
    await benchRecordingCost(d, 'text');
    await benchRecordingCost(d, 'NULs');
    await benchInteractiveRecording(d);
  } finally {
    await d.close();
  }
}
if (want('idle')) await benchIdleTunnels();
if (want('audit')) await benchAuditSearch('sqlite');
if (want('audit-pg')) await benchAuditSearch('postgres');
if (want('locks')) await benchLockPropagation();
if (want('replicas')) await benchReplicaGet();

const report = { at: new Date().toISOString(), node: process.version, results, details };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
if (json) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
} else {
  say('\n');
  for (const r of results) {
    const digits = r.unit === 'ms' ? (r.baseline && r.baseline.value < 0.1 ? 3 : 2) : r.baseline && r.baseline.value < 100 ? 1 : 0;
    const ratio = r.ratio !== undefined ? `  = ${(100 * r.ratio).toFixed(1)}%` : '';
    const base = r.baseline ? `  vs ${r.baseline.name} ${r.baseline.value.toFixed(digits)}${ratio}` : '';
    const goal = r.goal ? `  goal ${r.goal}: ${r.met ? 'met' : 'NOT met'}` : '';
    say(`${r.name.padEnd(54)} ${r.value.toFixed(r.unit === 'ms' ? 2 : 1).padStart(9)} ${r.unit}${base}${goal}\n`);
  }
}
