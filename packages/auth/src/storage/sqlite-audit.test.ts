import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStorage } from './sqlite.ts';
import type { NewAuditEvent, SessionRecord, Storage } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const dirs: string[] = [];
const opened: Storage[] = [];

function fresh(): { storage: Storage; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-audit-'));
  dirs.push(dir);
  const path = join(dir, 'ztsh.db');
  const storage = openSqliteStorage(path);
  opened.push(storage);
  return { storage, path };
}

afterEach(() => {
  for (const s of opened.splice(0)) {
    try {
      s.close();
    } catch {
      // closed by the test
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const kube = (n: number, extra: Partial<NewAuditEvent> = {}, fields: Record<string, unknown> = {}): NewAuditEvent => ({
  time: new Date(T0 + n * 1000).toISOString(),
  type: 'kube.request',
  code: 'ZA2000I',
  success: true,
  user: 'alice',
  message: `get pods ${n}`,
  fields: { cluster: 'prod', verb: 'get', resource: 'pods', ...fields },
  ...extra,
});

describe('audit search', () => {
  it('filters by user, cluster, type prefix, outcome, time and text, newest first, and pages by seq', () => {
    const { storage } = fresh();
    storage.audit.appendMany([
      kube(1),
      kube(2, { user: 'bob' }),
      kube(3, {}, { cluster: 'staging' }),
      kube(4, { success: false, code: 'ZA2000W', message: 'access denied: secrets' }),
      kube(5, { type: 'session.start', code: 'ZA2100I', message: 'exec' }, { command: ['sh', '-c', 'rm -rf /tmp/x'], sessionId: 's1' }),
      kube(6, { type: 'user.login', code: 'ZA1000I', message: 'login' }, { cluster: undefined }),
    ]);
    const seqs = (q: Parameters<Storage['audit']['search']>[0]) => storage.audit.search(q).map((e) => e.seq);
    expect(seqs({})).toEqual([6, 5, 4, 3, 2, 1]);
    expect(seqs({ user: 'bob' })).toEqual([2]);
    expect(seqs({ cluster: 'staging' })).toEqual([3]);
    expect(seqs({ type: 'kube.' })).toEqual([4, 3, 2, 1]);
    expect(seqs({ type: 'session.*' })).toEqual([5]);
    expect(seqs({ type: 'user.login' })).toEqual([6]);
    expect(seqs({ success: false })).toEqual([4]);
    expect(seqs({ since: new Date(T0 + 2000).toISOString(), until: new Date(T0 + 4000).toISOString() })).toEqual([3, 2]);
    expect(seqs({ text: 'rm -rf' })).toEqual([5]);
    expect(seqs({ text: 'secrets', user: 'alice' })).toEqual([4]);
    expect(seqs({ sessionId: 's1' })).toEqual([5]);
    expect(seqs({ limit: 2 })).toEqual([6, 5]);
    expect(seqs({ limit: 2, before: { time: new Date(T0 + 5000).toISOString(), seq: 5 } })).toEqual([4, 3]);
    // FTS syntax in the user's words is taken literally, not as a query.
    expect(seqs({ text: 'pods" OR "login' })).toEqual([]);
  });
});

describe('audit verify', () => {
  it('passes an intact chain', () => {
    const { storage } = fresh();
    storage.audit.appendMany([kube(1), kube(2), kube(3)]);
    storage.audit.append(kube(4));
    expect(storage.audit.verify()).toMatchObject({ ok: true, events: 4, lastSeq: 4 });
  });

  it('names an edited event', () => {
    const { storage, path } = fresh();
    storage.audit.appendMany([kube(1), kube(2), kube(3)]);
    const raw = new Database(path);
    raw.prepare("UPDATE audit_events SET user = 'mallory' WHERE seq = 2").run();
    raw.close();
    const verdict = storage.audit.verify();
    expect(verdict).toMatchObject({ ok: false, brokenAt: 2 });
    expect(verdict.ok ? '' : verdict.problem).toMatch(/event 2 .*edited/);
  });

  it('names the gap a deleted event leaves', () => {
    const { storage, path } = fresh();
    storage.audit.appendMany([kube(1), kube(2), kube(3), kube(4)]);
    const raw = new Database(path);
    raw.prepare('DELETE FROM audit_events WHERE seq = 2').run();
    raw.close();
    const verdict = storage.audit.verify();
    expect(verdict).toMatchObject({ ok: false, brokenAt: 3 });
    expect(verdict.ok ? '' : verdict.problem).toMatch(/event 2 is missing/);
  });

  it('catches an event rewritten with a fresh hash: the next link breaks', () => {
    const { storage, path } = fresh();
    const [, second] = storage.audit.appendMany([kube(1), kube(2), kube(3)]);
    const raw = new Database(path);
    raw.prepare("UPDATE audit_events SET hash = ? WHERE seq = 2").run('f'.repeat(64));
    raw.close();
    expect(second).toBeDefined();
    expect(storage.audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
  });
});

const session = (id: string, patch: Partial<SessionRecord> = {}): SessionRecord => ({
  id,
  kind: 'exec',
  user: 'alice',
  roles: ['developer'],
  cluster: 'prod',
  namespace: 'default',
  pod: 'web-1',
  container: null,
  command: ['sh'],
  tty: true,
  kubernetesUser: 'alice',
  kubernetesGroups: ['developers'],
  clientIp: '127.0.0.1',
  startedAt: T0,
  endedAt: null,
  exitCode: null,
  endReason: null,
  bytesIn: 0,
  bytesOut: 0,
  recordingPath: `${id}.cast`,
  recordingSize: null,
  ...patch,
});

describe('sessions', () => {
  it('stores, updates, and finds sessions by user, cluster, time and the words in them', () => {
    const { storage } = fresh();
    storage.sessions.insert(session('a'));
    storage.sessions.insert(session('b', { user: 'bob', startedAt: T0 + 1000, cluster: 'staging' }));
    storage.sessions.insert(session('c', { startedAt: T0 + 2000, kind: 'portforward', recordingPath: null }));
    storage.sessions.update('a', { endedAt: T0 + 500, exitCode: 3, bytesIn: 10, bytesOut: 20 });
    storage.sessions.index('a', 'sh', 'ls /etc\nrm -rf /var/lib/data\n');
    storage.sessions.index('b', 'sh', 'cat notes');
    expect(storage.sessions.get('a')).toMatchObject({ exitCode: 3, bytesIn: 10, tty: true, roles: ['developer'], command: ['sh'] });
    const ids = (q: Parameters<Storage['sessions']['search']>[0]) => storage.sessions.search(q).map((s) => s.id);
    expect(ids({})).toEqual(['c', 'b', 'a']);
    expect(ids({ user: 'alice' })).toEqual(['c', 'a']);
    expect(ids({ cluster: 'staging' })).toEqual(['b']);
    expect(ids({ kind: 'portforward' })).toEqual(['c']);
    expect(ids({ text: 'rm -rf' })).toEqual(['a']);
    expect(ids({ text: 'rm -rf', cluster: 'staging' })).toEqual([]);
    expect(ids({ since: T0 + 1000 })).toEqual(['c', 'b']);
    expect(ids({ limit: 1, before: { startedAt: T0 + 2000, id: 'c' } })).toEqual(['b']);
    storage.sessions.index('a', 'sh', 'something else');
    expect(ids({ text: 'rm -rf' })).toEqual([]);
    expect(storage.sessions.unfinished().map((s) => s.id)).toEqual(['b', 'c']);
  });
});

describe('locks', () => {
  it('lists locks in force, leaves out expired ones, and removes by id', () => {
    const { storage } = fresh();
    storage.locks.insert({ id: 'l1', target: { user: 'alice' }, message: 'incident 42', createdBy: 'bob', createdAt: T0, expiresAt: null });
    storage.locks.insert({ id: 'l2', target: { role: 'developer' }, message: null, createdBy: 'bob', createdAt: T0 + 1, expiresAt: T0 + 60_000 });
    expect(storage.locks.active(T0 + 1000).map((l) => l.id)).toEqual(['l1', 'l2']);
    expect(storage.locks.active(T0 + 60_000).map((l) => l.id)).toEqual(['l1']);
    expect(storage.locks.active(T0)[1]!.target).toEqual({ role: 'developer' });
    expect(storage.locks.remove('l1')).toBe(true);
    expect(storage.locks.remove('l1')).toBe(false);
    expect(storage.locks.active(T0).map((l) => l.id)).toEqual(['l2']);
  });
});
