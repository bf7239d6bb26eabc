import { describe, expect, it } from 'vitest';
import { ENGINES } from './storage-engines.fixtures.ts';
import type { NewAuditEvent, SessionRecord, Storage } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');

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

describe.each(ENGINES)('audit search ($name)', (engine) => {
  it('filters by user, cluster, type prefix, outcome, time and text, newest first, and pages by seq', async () => {
    const storage = await (await engine.fresh()).open();
    await storage.audit.appendMany([
      kube(1),
      kube(2, { user: 'bob' }),
      kube(3, {}, { cluster: 'staging' }),
      kube(4, { success: false, code: 'ZA2000W', message: 'access denied: secrets' }),
      kube(5, { type: 'session.start', code: 'ZA2100I', message: 'exec' }, { command: ['sh', '-c', 'rm -rf /tmp/x'], sessionId: 's1' }),
      kube(6, { type: 'user.login', code: 'ZA1000I', message: 'login' }, { cluster: undefined }),
    ]);
    const seqs = async (q: Parameters<Storage['audit']['search']>[0]) => (await storage.audit.search(q)).map((e) => e.seq);
    expect(await seqs({})).toEqual([6, 5, 4, 3, 2, 1]);
    expect(await seqs({ user: 'bob' })).toEqual([2]);
    expect(await seqs({ cluster: 'staging' })).toEqual([3]);
    expect(await seqs({ type: 'kube.' })).toEqual([4, 3, 2, 1]);
    expect(await seqs({ type: 'session.*' })).toEqual([5]);
    expect(await seqs({ type: 'user.login' })).toEqual([6]);
    expect(await seqs({ type: 'nothing.*' })).toEqual([]);
    expect(await seqs({ success: false })).toEqual([4]);
    expect(await seqs({ success: true, type: 'kube.' })).toEqual([3, 2, 1]);
    expect(await seqs({ since: new Date(T0 + 2000).toISOString(), until: new Date(T0 + 4000).toISOString() })).toEqual([3, 2]);
    expect(await seqs({ text: 'rm -rf' })).toEqual([5]);
    expect(await seqs({ text: 'secrets', user: 'alice' })).toEqual([4]);
    expect(await seqs({ sessionId: 's1' })).toEqual([5]);
    expect(await seqs({ limit: 2 })).toEqual([6, 5]);
    expect(await seqs({ limit: 2, before: { time: new Date(T0 + 5000).toISOString(), seq: 5 } })).toEqual([4, 3]);
    // FTS syntax in the user's words is taken literally, not as a query.
    expect(await seqs({ text: 'pods" OR "login' })).toEqual([]);
  });

  // One table of texts and searches: both engines must give these answers, so
  // PostgreSQL finds what SQLite's FTS5 finds and nothing else.
  it('finds words and phrases the way FTS5 does', async () => {
    const storage = await (await engine.fresh()).open();
    const texts = [
      'rm -rf /var/lib/data',
      'kubectl exec -it web-1 -- sh',
      'Café au lait',
      'mail alice@example.com now',
      'path /etc/passwd read',
      'ÄÖÜ straße',
      'snake_case_name',
      "O'Reilly said \"hi\"",
      '100% of 50_000 pods',
      'emoji 😀 ok',
      'tabs\tand\nnewlines',
    ];
    await storage.audit.appendMany(texts.map((message, i) => kube(i + 1, { message }, { verb: 'x', resource: 'y', cluster: 'c' })));
    const found = async (text: string) => (await storage.audit.search({ text })).map((e) => e.seq).sort((a, b) => a - b);
    const cases: [string, number[]][] = [
      ['rm -rf', [1]],
      ['rm rf', [1]],
      ['RM   -RF', [1]],
      ['rf rm', []],
      ['-rf /var', [1]],
      ['lib data', [1]],
      ['var/lib', [1]],
      ['rm -r', []],
      ['web-1', [2]],
      ['web', [2]],
      ['-- sh', [2]],
      ['cafe', [3]],
      ['CAFÉ au', [3]],
      ['alice@example.com', [4]],
      ['example', [4]],
      ['exam', []],
      ['/etc/passwd', [5]],
      ['etc passwd', [5]],
      ['aou strasse', []],
      ['aou straße', [6]],
      ['snake', [7]],
      ['case name', [7]],
      ["o'reilly", [8]],
      ['reilly said hi', [8]],
      ['100', [9]],
      ['100%', [9]],
      ['50_000', [9]],
      ['50', [9]],
      ['😀', []],
      ['emoji ok', [10]],
      ['tabs and newlines', [11]],
      ['---', []],
      [' ', []],
      ['%', []],
      ['_', []],
      ['x', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
    ];
    const results: [string, number[]][] = [];
    for (const [text] of cases) results.push([text, await found(text)]);
    expect(results).toEqual(cases);
  });
});

describe.each(ENGINES)('audit verify ($name)', (engine) => {
  it('passes an intact chain', async () => {
    const storage = await (await engine.fresh()).open();
    await storage.audit.appendMany([kube(1), kube(2), kube(3)]);
    await storage.audit.append(kube(4));
    expect(await storage.audit.verify()).toMatchObject({ ok: true, events: 4, lastSeq: 4 });
  });

  it('passes an empty log', async () => {
    const storage = await (await engine.fresh()).open();
    expect(await storage.audit.verify()).toMatchObject({ ok: true, events: 0, lastSeq: 0 });
  });

  it('names an edited event', async () => {
    const store = await engine.fresh();
    const storage = await store.open();
    await storage.audit.appendMany([kube(1), kube(2), kube(3)]);
    await store.tamper.editEvent(2, { user: 'mallory' });
    const verdict = await storage.audit.verify();
    expect(verdict).toMatchObject({ ok: false, brokenAt: 2 });
    expect(verdict.ok ? '' : verdict.problem).toMatch(/event 2 .*edited/);
  });

  it('names the gap a deleted event leaves', async () => {
    const store = await engine.fresh();
    const storage = await store.open();
    await storage.audit.appendMany([kube(1), kube(2), kube(3), kube(4)]);
    await store.tamper.deleteEvent(2);
    const verdict = await storage.audit.verify();
    expect(verdict).toMatchObject({ ok: false, brokenAt: 3 });
    expect(verdict.ok ? '' : verdict.problem).toMatch(/event 2 is missing/);
  });

  it('catches an event rewritten with a fresh hash: the next link breaks', async () => {
    const store = await engine.fresh();
    const storage = await store.open();
    const [, second] = await storage.audit.appendMany([kube(1), kube(2), kube(3)]);
    await store.tamper.setHash(2, 'f'.repeat(64));
    expect(second).toBeDefined();
    expect(await storage.audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
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

describe.each(ENGINES)('sessions ($name)', (engine) => {
  it('stores, updates, and finds sessions by user, cluster, time and the words in them', async () => {
    const storage = await (await engine.fresh()).open();
    await storage.sessions.insert(session('a'));
    await storage.sessions.insert(session('b', { user: 'bob', startedAt: T0 + 1000, cluster: 'staging' }));
    await storage.sessions.insert(session('c', { startedAt: T0 + 2000, kind: 'portforward', recordingPath: null }), 'proxy-2');
    await storage.sessions.update('a', { endedAt: T0 + 500, exitCode: 3, bytesIn: 10, bytesOut: 20 });
    await storage.sessions.index('a', 'sh', 'ls /etc\nrm -rf /var/lib/data\n');
    await storage.sessions.index('b', 'sh', 'cat notes');
    await storage.sessions.index('c', 'rm -rf', '');
    expect(await storage.sessions.get('a')).toMatchObject({ exitCode: 3, bytesIn: 10, tty: true, roles: ['developer'], command: ['sh'] });
    expect(await storage.sessions.get('a')).toEqual({ ...session('a'), endedAt: T0 + 500, exitCode: 3, bytesIn: 10, bytesOut: 20 });
    expect(await storage.sessions.get('zzz')).toBeUndefined();
    const ids = async (q: Parameters<Storage['sessions']['search']>[0]) => (await storage.sessions.search(q)).map((s) => s.id);
    expect(await ids({})).toEqual(['c', 'b', 'a']);
    expect(await ids({ user: 'alice' })).toEqual(['c', 'a']);
    expect(await ids({ cluster: 'staging' })).toEqual(['b']);
    expect(await ids({ kind: 'portforward' })).toEqual(['c']);
    expect(await ids({ text: 'rm -rf' })).toEqual(['c', 'a']);
    expect(await ids({ text: 'rm -rf', cluster: 'staging' })).toEqual([]);
    // A phrase lies within the command or within the content, not across both.
    expect(await ids({ text: 'sh ls' })).toEqual([]);
    expect(await ids({ since: T0 + 1000 })).toEqual(['c', 'b']);
    expect(await ids({ limit: 1, before: { startedAt: T0 + 2000, id: 'c' } })).toEqual(['b']);
    await storage.sessions.index('a', 'sh', 'something else');
    expect(await ids({ text: 'rm -rf' })).toEqual(['c']);
    expect((await storage.sessions.unfinished()).map((s) => s.id)).toEqual(['b']);
    expect((await storage.sessions.unfinished('proxy-2')).map((s) => s.id)).toEqual(['c']);
    expect(await storage.sessions.proxyOf('c')).toBe('proxy-2');
    expect(await storage.sessions.proxyOf('a')).toBeNull();
    expect(await storage.sessions.proxyOf('zzz')).toBeUndefined();
  });
});

describe.each(ENGINES)('locks ($name)', (engine) => {
  it('lists locks in force, leaves out expired ones, and removes by id', async () => {
    const storage = await (await engine.fresh()).open();
    await storage.locks.insert({ id: 'l1', target: { user: 'alice' }, message: 'incident 42', createdBy: 'bob', createdAt: T0, expiresAt: null });
    await storage.locks.insert({ id: 'l2', target: { role: 'developer' }, message: null, createdBy: 'bob', createdAt: T0 + 1, expiresAt: T0 + 60_000 });
    expect((await storage.locks.active(T0 + 1000)).map((l) => l.id)).toEqual(['l1', 'l2']);
    expect((await storage.locks.active(T0 + 60_000)).map((l) => l.id)).toEqual(['l1']);
    expect((await storage.locks.active(T0))[1]!.target).toEqual({ role: 'developer' });
    expect(await storage.locks.remove('l1')).toBe(true);
    expect(await storage.locks.remove('l1')).toBe(false);
    expect((await storage.locks.active(T0)).map((l) => l.id)).toEqual(['l2']);
  });
});
