// The auditors' side, end to end: alice works in the sandbox with the real
// kubectl (an interactive `exec -it` on a pseudo-terminal); carol (auditor)
// finds the session by user, cluster and a word alice typed, replays it, and
// verifies the hash chain; an edited audit row is named; bob (admin) locks
// alice out in the middle of her exec and watch.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ZTSH } from './helpers/source-bins.ts';
import { Agent, fetch } from 'undici';
import { DEV_USERS } from '@ztsh/server';
import { castText, parseAsciicast, plainText, type AuditEvent, type SessionInfo } from '@ztsh/protocol';
import { findKubectl, runKubectl, startKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { runOnTty } from './helpers/tty.ts';
import { storeSession } from './helpers/stored-session.ts';

/** A time as the CLI shows it in a table: local, to the second, with the offset. */
const LOCAL_TIME = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2}:\d{2})/;

/** The instant a shown time names, after checking its offset is Berlin's (winter or summer). */
function berlinInstant(text: string): number {
  const m = LOCAL_TIME.exec(text);
  expect(m, text).not.toBeNull();
  expect(['+01:00', '+02:00']).toContain(m![3]);
  return Date.parse(`${m![1]}T${m![2]}${m![3]}`);
}
const toSecond = (iso: string) => Math.floor(Date.parse(iso) / 1000) * 1000;

let k: KubeEnv;
let carol: Record<string, string>;
let bob: Record<string, string>;
let alice: Record<string, string>;
const kubectlBin = findKubectl('1.33', process.env.PATH)!;

beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1', { logs: ['started'] });
  alice = k.env as Record<string, string>;
  carol = await loggedInEnv(k.stack, DEV_USERS[2]!);
  bob = await loggedInEnv(k.stack, DEV_USERS[1]!);
});
afterAll(() => k?.close());


describe('recordings', () => {
  let session: SessionInfo;
  let terminal: string;

  it('records an interactive kubectl exec -it session', async () => {
    const tty = runOnTty([kubectlBin, 'exec', '-it', 'web-1', '--', 'sh'], k.env);
    await tty.waitFor(/# $/);
    tty.type('echo typed-zebra-word\r');
    await tty.waitFor(/typed-zebra-word\r?\n.*typed-zebra-word/s);
    tty.type('exit\r');
    expect(await tty.exited).toBe(0);
    terminal = tty.output();

    const found = await cliJson<SessionInfo[]>(['recordings', 'ls', '--user', 'alice', '--cluster', 'sandbox'], carol);
    expect(found.length).toBeGreaterThan(0);
    session = found[0]!;
    expect(session).toMatchObject({ kind: 'exec', user: 'alice', cluster: 'sandbox', namespace: 'default', pod: 'web-1', command: ['sh'], tty: true, exitCode: 0, recorded: true, roles: ['developer'], kubernetesGroups: ['developers'] });
    expect(session.bytesIn).toBeGreaterThan(0);
    expect(session.bytesOut).toBeGreaterThan(0);
  });

  it('finds it by a word typed in it, and only it', async () => {
    const hits = await cliJson<SessionInfo[]>(['recordings', 'search', 'typed-zebra-word'], carol);
    expect(hits.map((s) => s.id)).toEqual([session.id]);
    expect(await cliJson<SessionInfo[]>(['recordings', 'search', 'never-typed-anywhere'], carol)).toEqual([]);
    expect(await cliJson<SessionInfo[]>(['recordings', 'ls', '--user', 'bob'], carol)).toEqual([]);
  });

  it('replays what alice saw, and the file is asciicast v2', async () => {
    const text = await cli(['play', session.id, '--format', 'text'], carol);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('typed-zebra-word');
    // Everything replayed is what kubectl put on alice's terminal, in order.
    const norm = (s: string) => plainText(s).replace(/\n+/g, '\n');
    expect(norm(terminal)).toContain(norm(text.stdout).trim());

    const cast = await cli(['play', session.id, '--format', 'asciicast'], carol);
    const parsed = parseAsciicast(cast.stdout);
    expect(parsed.header).toMatchObject({ version: 2, width: expect.any(Number), height: expect.any(Number), timestamp: expect.any(Number) });
    for (const line of cast.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const codes = new Set(parsed.events.map((e) => e[1]));
    expect(codes).toEqual(new Set(['o', 'i', 'r']));
    expect(parsed.events.find((e) => e[1] === 'r')![2]).toBe('100x30');
    const times = parsed.events.map((e) => e[0]);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(parsed.events.filter((e) => e[1] === 'i').map((e) => e[2]).join('')).toContain('echo typed-zebra-word');

    // play replays the screen (cursor and colour sequences kept); --format text is its text.
    const played = await cli(['play', session.id, '--speed', '1000'], carol);
    expect(plainText(played.stdout)).toBe(plainText(text.stdout));
  });

  it('keeps it as .ztrec.gz, sent to ztsh play as gzip-encoded asciicast, and --format asciicast prints it plain', async () => {
    const record = (await k.stack.ztshd.auth.storage.sessions.get(session.id))!;
    expect(record.recordingPath).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}/${session.id}\\.ztrec\\.gz$`));
    const file = readFileSync(join(k.stack.ztshd.auth.recordingsDir, record.recordingPath!));
    // A whole gzip stream, closed when the session ended.
    expect(() => gunzipSync(file)).not.toThrow();
    const stored = castText(file, record.recordingPath!);
    // The client ztsh play uses (undici's fetch) offers gzip, and gets the asciicast gzip-encoded.
    const { ZtshHome } = await import('@ztsh/cli');
    const files = new ZtshHome(carol.ZTSH_HOME!).readProfile(k.stack.url)!;
    const res = await fetch(new URL(`/v1/recordings/${session.id}/cast`, k.stack.url), { dispatcher: new Agent({ connect: { ca: k.stack.tlsCa, cert: files.certPem, key: files.keyPem } }) });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(await res.text()).toBe(stored);
    const cast = await cli(['play', session.id, '--format', 'asciicast'], carol);
    expect(cast.code, cast.stderr).toBe(0);
    expect(parseAsciicast(cast.stdout)).toEqual(parseAsciicast(stored));
  });

  it('still plays an uncompressed .cast from before', async () => {
    const old = await storeSession(k.stack, { user: 'dave', output: ['old-plain-cast-marker\r\n', 'second line\r\n'] });
    expect(old.recordingPath).toMatch(/\.cast$/);
    const text = await cli(['play', old.id, '--format', 'text'], carol);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('old-plain-cast-marker\nsecond line\n');
    const cast = await cli(['play', old.id, '--format', 'asciicast'], carol);
    expect(cast.stdout).toBe(readFileSync(join(k.stack.ztshd.auth.recordingsDir, old.recordingPath!), 'utf8'));
  });

  it('records non-interactive exec too, with its exit code', async () => {
    const r = await runKubectl(kubectlBin, ['exec', 'web-1', '--', 'sh', '-c', 'echo quiet-otter; exit 3'], { env: k.env, timeoutMs: 30_000 });
    expect(r.code).toBe(3);
    const [s] = await cliJson<SessionInfo[]>(['recordings', 'search', 'quiet-otter'], carol);
    expect(s).toMatchObject({ user: 'alice', tty: false, exitCode: 3, command: ['sh', '-c', 'echo quiet-otter; exit 3'] });
    const text = await cli(['play', s!.id, '--format', 'text'], carol);
    expect(text.stdout).toBe('quiet-otter\n');
  });

  it('finds the session and its requests in the audit log', async () => {
    const starts = await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--cluster', 'sandbox', '--type', 'session.start'], carol);
    expect(starts.map((e) => e.fields.sessionId)).toContain(session.id);
    const bySession = await cliJson<AuditEvent[]>(['audit', 'search', '--session', session.id], carol);
    expect(bySession.map((e) => e.type).sort()).toEqual(['kube.request', 'session.end', 'session.start']);
    const gets = await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--type', 'kube.request', '--query', 'web-1', '--since', '1h'], carol);
    expect(gets.length).toBeGreaterThan(0);
    expect(gets[0]!.fields).toMatchObject({ cluster: 'sandbox', namespace: 'default', kubernetesUser: 'alice', kubernetesGroups: ['developers'], roles: ['developer'] });
    expect(typeof gets[0]!.fields.latencyMs).toBe('number');
    const table = await cli(['audit', 'search', '--user', 'alice', '--limit', '5'], carol);
    expect(table.stdout).toMatch(/^TIME\s+TYPE\s+USER\s+CLUSTER\s+OUTCOME\s+WHAT/);
  });

  it('records port-forward as start, end and bytes, without content', async () => {
    const pf = startKubectl(kubectlBin, ['port-forward', 'pod/web-1', `:${k.kube.echoServerPort}`], k.env);
    const [, port] = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+)/);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      let got = '';
      socket.on('data', (d) => {
        got += d.toString();
        if (got.length >= 14) resolve();
      });
      socket.on('error', reject);
      socket.write('forwarded-text');
    });
    socket.destroy();
    await pf.stop();
    await expect
      .poll(async () => (await cliJson<SessionInfo[]>(['recordings', 'ls', '--kind', 'portforward', '--user', 'alice'], carol))[0]?.endedAt ?? null, { timeout: 10_000 })
      .not.toBeNull();
    const [s] = await cliJson<SessionInfo[]>(['recordings', 'ls', '--kind', 'portforward', '--user', 'alice'], carol);
    expect(s).toMatchObject({ kind: 'portforward', recorded: false, pod: 'web-1' });
    expect(s!.bytesIn).toBeGreaterThanOrEqual(14);
    expect(s!.bytesOut).toBeGreaterThanOrEqual(14);
    const types = (await cliJson<AuditEvent[]>(['audit', 'search', '--session', s!.id], carol)).map((e) => e.type).sort();
    expect(types).toEqual(['kube.request', 'port_forward.end', 'port_forward.start']);
    const play = await cli(['play', s!.id], carol);
    expect(play.stderr).toMatch(/its content is not recorded/);
  });

  it('exports events as JSON lines whose chain checks out, and follows new ones', async () => {
    const all = await cli(['audit', 'export'], carol);
    expect(all.code, all.stderr).toBe(0);
    const events = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    expect(events[0]!.seq).toBe(1);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.seq).toBe(events[i - 1]!.seq + 1);
      expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
    }
    const last = events[events.length - 1]!.seq;
    const follow = spawn(process.execPath, [...ZTSH, 'audit', 'export', '--after', String(last), '--follow'], { env: carol, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follow.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const r = await runKubectl(kubectlBin, ['get', 'pod', 'followed-pod-name'], { env: k.env, timeoutMs: 30_000 });
      expect(r.code).not.toBe(0); // not found; still a request
      await expect.poll(() => out.includes('followed-pod-name'), { timeout: 10_000 }).toBe(true);
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
      expect(lines[0]!.seq).toBe(last + 1);
    } finally {
      follow.kill();
    }
  });

  it('plays a session by the first 8 characters of its id, and refuses a prefix two ids share', async () => {
    const prefix = session.id.slice(0, 8);
    const byPrefix = await cli(['play', prefix, '--format', 'text'], carol);
    expect(byPrefix.code, byPrefix.stderr).toBe(0);
    expect(byPrefix.stdout).toBe((await cli(['play', session.id, '--format', 'text'], carol)).stdout);
    const byEvents = await cliJson<AuditEvent[]>(['audit', 'search', '--session', prefix], carol);
    expect(byEvents.map((e) => e.type).sort()).toEqual(['kube.request', 'session.end', 'session.start']);

    for (const last of ['1', '2']) await storeSession(k.stack, { id: `ee11ee11-0000-4000-8000-00000000000${last}`, user: 'dave', output: ['twin\r\n'] });
    const twins = await cli(['play', 'ee11ee11'], carol);
    expect(twins.code).toBe(1);
    expect(twins.stderr).toBe('error: ee11ee11 is the start of 2 session ids\nhint: give more characters of the id\n');
    const none = await cli(['play', 'ee11ee12'], carol);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: no session id starts with ee11ee12\n/);
    const whole = await cli(['play', 'ee11ee11-0000-4000-8000-000000000002', '--format', 'text'], carol);
    expect(whole.stdout).toBe('twin\n');
  });

  it('takes now for --since and --until', async () => {
    const until = await cliJson<SessionInfo[]>(['recordings', 'ls', '--user', 'alice', '--until', 'now'], carol);
    expect(until.map((s) => s.id)).toContain(session.id);
    expect(await cliJson<SessionInfo[]>(['recordings', 'ls', '--user', 'alice', '--since', 'now'], carol)).toEqual([]);
    const starts = await cliJson<AuditEvent[]>(['audit', 'search', '--type', 'session.start', '--since', '1h', '--until', 'now'], carol);
    expect(starts.map((e) => e.fields.sessionId)).toContain(session.id);
  });

  it('shows times in the local zone ($TZ) with the offset; JSON keeps UTC', async () => {
    const berlin = { ...carol, TZ: 'Europe/Berlin' };
    const ls = await cli(['recordings', 'ls', '--user', 'alice', '--kind', 'exec'], berlin);
    expect(ls.stdout).toMatch(/^SESSION\s+STARTED\s+USER/);
    expect(berlinInstant(ls.stdout.split('\n').find((l) => l.startsWith(session.id))!)).toBe(toSecond(session.startedAt));
    expect(session.startedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    const [start] = await cliJson<AuditEvent[]>(['audit', 'search', '--session', session.id, '--type', 'session.start'], carol);
    const table = await cli(['audit', 'search', '--session', session.id, '--type', 'session.start'], berlin);
    expect(berlinInstant(table.stdout.split('\n')[1]!)).toBe(toSecond(start!.time));

    const status = await cli(['status'], berlin);
    const { validUntil } = JSON.parse((await cli(['status', '--format', 'json'], carol)).stdout) as { validUntil: string };
    expect(validUntil).toMatch(/Z$/);
    expect(berlinInstant(/Valid until: +(.*)$/m.exec(status.stdout)![1]!)).toBe(toSecond(validUntil));
  });

  it('records refusals as failed events', async () => {
    const r = await runKubectl(kubectlBin, ['get', 'secrets'], { env: k.env, timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    const denied = await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--outcome', 'failure', '--limit', '1'], carol);
    expect(denied[0]).toMatchObject({ type: 'kube.request', success: false, fields: { resource: 'secrets', verb: 'list', status: 403, reason: 'denied' } });
  });
});

describe('who may audit', () => {
  it('refuses alice (no audit permission) with 403, from the API and the CLI', async () => {
    const { ZtshHome } = await import('@ztsh/cli');
    const files = new ZtshHome(alice.ZTSH_HOME!).readProfile(k.stack.url)!;
    const dispatcher = new Agent({ connect: { ca: k.stack.tlsCa, cert: files.certPem, key: files.keyPem } });
    try {
      for (const path of ['/v1/audit/events', '/v1/audit/verify', '/v1/recordings', '/v1/audit/export']) {
        const res = await fetch(new URL(path, k.stack.url), { dispatcher });
        expect(res.status, path).toBe(403);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('access_denied');
      }
      const anonymous = await fetch(new URL('/v1/audit/events', k.stack.url), { dispatcher: new Agent({ connect: { ca: k.stack.tlsCa } }) });
      expect(anonymous.status).toBe(401);
    } finally {
      await dispatcher.close();
    }
    const r = await cli(['audit', 'search'], alice);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/alice lacks the "audit" permission/);
  });
});

describe('audit verify', () => {
  it('says the log is intact, then names an edited event', async () => {
    const ok = await cli(['audit', 'verify'], carol);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/The audit log is intact: \d+ events/);

    const db = new Database(join(k.stack.dataDir, 'ztsh.db'));
    const target = db.prepare("SELECT seq FROM audit_events WHERE type = 'session.start' ORDER BY seq LIMIT 1").get() as { seq: number };
    db.prepare("UPDATE audit_events SET user = 'mallory' WHERE seq = ?").run(target.seq);
    db.close();
    const broken = await cli(['audit', 'verify'], carol);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`broken at event ${target.seq}`);
    expect(broken.stderr).toMatch(/edited after it was written/);
    const restore = new Database(join(k.stack.dataDir, 'ztsh.db'));
    restore.prepare("UPDATE audit_events SET user = 'alice' WHERE seq = ?").run(target.seq);
    restore.close();
    expect((await cli(['audit', 'verify'], carol)).code).toBe(0);
  });
});

describe('locks', () => {
  it('ends alice\'s exec and watch at once, refuses her next call, and lifts', async () => {
    // stdin stays open: cat runs until the lock ends it.
    const exec = runOnTty([kubectlBin, 'exec', '-i', 'web-1', '--', 'cat'], k.env);
    exec.type('still-here\n');
    await exec.waitFor(/still-here[\s\S]*still-here/);
    const watch = startKubectl(kubectlBin, ['get', 'pods', '-w'], k.env);
    await watch.waitFor(/web-1/);
    await expect.poll(() => k.stack.ztshd.proxy.liveStreams.size, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const exitOf = (c: { child: typeof watch.child }) => new Promise<number | null>((r) => (c.child.exitCode !== null ? r(c.child.exitCode) : c.child.on('close', (code) => r(code))));

    const added = await cli(['lock', 'add', '--user', 'alice', '--message', 'incident 42', '--format', 'json'], bob);
    expect(added.code, added.stderr).toBe(0);
    const lock = JSON.parse(added.stdout) as { id: string; createdAt: string };
    expect(await exitOf(exec)).not.toBe(0);
    // kubectl shows the watch's ERROR event as a Status row and ends (with 0).
    await exitOf(watch);
    expect(exec.output()).toContain('incident 42');
    expect(watch.output()).toMatch(/Failure\s+Forbidden\s+access locked for user alice: incident 42/);
    // The proxy ended both as the lock was made, by its own clock.
    const ends = await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--type', 'session.end', '--limit', '1'], carol);
    expect(ends[0]!.fields.endReason).toBe('locked');
    expect(Date.parse(ends[0]!.time) - Date.parse(lock.createdAt)).toBeLessThan(1000);

    const refused = await runKubectl(kubectlBin, ['get', 'pods'], { env: k.env, timeoutMs: 30_000 });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('incident 42');
    const ls = await cli(['lock', 'ls'], { ...bob, TZ: 'Europe/Berlin' });
    expect(ls.stdout).toContain(lock.id);
    expect(berlinInstant(ls.stdout.split('\n').find((l) => l.startsWith(lock.id))!)).toBe(toSecond(lock.createdAt));
    const notAdmin = await cli(['lock', 'add', '--user', 'bob'], carol);
    expect(notAdmin.stderr).toMatch(/lacks the "admin" permission/);

    const removed = await cli(['lock', 'rm', lock.id], bob);
    expect(removed.code, removed.stderr).toBe(0);
    const back = await runKubectl(kubectlBin, ['get', 'pods'], { env: k.env, timeoutMs: 30_000 });
    expect(back.code, back.stderr).toBe(0);
    const audited = await cliJson<AuditEvent[]>(['audit', 'search', '--type', 'lock.'], carol);
    expect(audited.map((e) => e.type)).toEqual(['lock.removed', 'lock.created']);
  });

  it('refuses a new certificate to a locked user', async () => {
    const added = await cli(['lock', 'add', '--role', 'developer', '--ttl', '1h', '--format', 'json'], bob);
    const lock = JSON.parse(added.stdout) as { id: string };
    try {
      const r = await httpLogin(k.stack.url, k.stack.tlsCa, DEV_USERS[0]!, Date.now() + 30_000);
      expect(r.status).toBe(403);
      expect(r.json.error).toMatchObject({ code: 'locked' });
    } finally {
      await cli(['lock', 'rm', lock.id], bob);
    }
  });
});
