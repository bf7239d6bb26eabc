// What only the PostgreSQL engine does: several processes on one database.
// Each "replica" here is an engine of its own with its own pool, as in
// separate ztshd processes.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@ztsh/protocol';
import { loadOrCreateAuthority } from '../ca/authority.ts';
import { isEnvelope } from '../ca/key-envelope.ts';
import { systemClock } from '../clock.ts';
import { LISTENER_NAME } from './postgres-changes.ts';
import { MIGRATIONS } from './postgres-migrations.ts';
import { openPostgresStorage } from './postgres.ts';
import { indexedWords, searchDocument } from './search-words.ts';
import { postgresServer } from './storage-engines.fixtures.ts';
import { openStorage } from './storage-config.ts';
import type { ChangeTopic, Storage } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');

const toClose: Storage[] = [];

/** Engines of their own on one database, opened at the same time, as replicas starting together. */
async function replicas(url: string, count: number): Promise<Storage[]> {
  const opened = await Promise.all(Array.from({ length: count }, () => openPostgresStorage({ url, poolSize: 4 })));
  toClose.push(...opened);
  return opened;
}

afterEach(async () => {
  for (const s of toClose.splice(0)) await s.close().catch(() => {});
});

async function sql<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const event = (replica: number, n: number) => ({
  time: new Date(T0 + n).toISOString(),
  type: 'kube.request',
  code: 'ZA2000I',
  success: true,
  user: `user-${replica}`,
  message: `request ${n} on replica ${replica}`,
  fields: { cluster: 'prod', replica, n },
});

describe('PostgreSQL engine', () => {
  it('migrates once when three replicas start together on a fresh database', async () => {
    const url = await (await postgresServer()).createDatabase();
    const [a, b, c] = await replicas(url, 3);
    expect(await sql(url, 'SELECT version FROM ztsh_schema')).toEqual([{ version: MIGRATIONS.length }]);
    expect(await sql(url, 'SELECT seq, hash FROM audit_head')).toHaveLength(1);
    // Each works on the one schema.
    await a!.locks.insert({ id: 'l1', target: { user: 'alice' }, message: null, createdBy: 'bob', createdAt: T0, expiresAt: null });
    expect((await b!.locks.active(T0)).map((l) => l.id)).toEqual(['l1']);
    expect((await c!.locks.active(T0)).map((l) => l.id)).toEqual(['l1']);
    await a!.locks.insert({ id: 'l2', target: { accessRequest: 'req-a' }, message: null, createdBy: 'alice', createdAt: T0, expiresAt: T0 + 1 });
    expect((await b!.locks.active(T0)).find((l) => l.id === 'l2')?.target).toEqual({ accessRequest: 'req-a' });
  });

  it('refuses a database migrated by a newer ztshd', async () => {
    const url = await (await postgresServer()).createDatabase();
    await (await replicas(url, 1))[0]!.close();
    await sql(url, 'UPDATE ztsh_schema SET version = $1', [MIGRATIONS.length + 1]);
    await expect(openPostgresStorage({ url })).rejects.toThrow(/newer than this ztshd understands/);
  });

  it('upgrades events stored before the word index: each gets the words an append would give it', async () => {
    const url = await (await postgresServer()).createDatabase();
    // A database at schema version 1, with events as that version stored them.
    const later = MIGRATIONS.splice(1);
    try {
      await (await replicas(url, 1))[0]!.close();
    } finally {
      MIGRATIONS.push(...later);
    }
    const long = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 0x5000))).join('');
    const texts = ['Rm -rf /tmp rm RF', `${long} short ${'v'.repeat(200)} ${'w'.repeat(201)}`, '', 'Café café'];
    for (const [i, text] of texts.entries()) {
      await sql(url, `INSERT INTO audit_events (seq, id, time, type, success, event, search) VALUES ($1, $2, $3, 'x', true, '{}', $4)`, [i + 1, `e${i}`, new Date(T0 + i).toISOString(), searchDocument(text)]);
    }
    await (await replicas(url, 1))[0]!.close();
    const rows = await sql<{ seq: number; words: string[] }>(url, 'SELECT seq::int AS seq, words FROM audit_events ORDER BY seq');
    expect(rows.map((r) => [...r.words].sort())).toEqual(texts.map((t) => indexedWords(t).sort()));
    expect(rows[0]!.words.slice().sort()).toEqual(['rf', 'rm', 'tmp']);
  });

  it('keeps one audit chain with three replicas appending at once: no gap in seq, and it verifies', async () => {
    const url = await (await postgresServer()).createDatabase();
    const writers = await replicas(url, 3);
    const perReplica = 30;
    const appended = (
      await Promise.all(
        writers.map(async (w, r) => {
          const mine: AuditEvent[] = [];
          // Singles and batches interleaved, several in flight per replica.
          for (let n = 0; n < perReplica; n += 3) {
            const [single, batch] = await Promise.all([w.audit.append(event(r, n)), w.audit.appendMany([event(r, n + 1), event(r, n + 2)])]);
            mine.push(single, ...batch);
          }
          return mine;
        }),
      )
    ).flat();
    const seqs = appended.map((e) => e.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 3 * perReplica }, (_, i) => i + 1));
    for (const w of writers) expect(await w.audit.verify()).toMatchObject({ ok: true, events: 3 * perReplica, lastSeq: 3 * perReplica });
    // A batch stays contiguous: its events are chained one after the other.
    const bySeq = new Map(appended.map((e) => [e.seq, e]));
    for (const e of appended) if (e.seq > 1) expect(e.prevHash).toBe(bySeq.get(e.seq - 1)!.hash);
  });

  it('tells every replica of a change published on any one', async () => {
    const url = await (await postgresServer()).createDatabase();
    const [a, b] = await replicas(url, 2);
    const heardOn = (storage: Storage, topic: ChangeTopic) =>
      new Promise<void>((resolve) => {
        const stop = storage.changes.subscribe((t) => t === topic && (stop(), resolve()));
      });
    const onB = heardOn(b!, 'locks');
    const onA = heardOn(a!, 'locks');
    await a!.changes.publish('locks');
    await Promise.all([onA, onB]);
    const tokensOnA = heardOn(a!, 'join_tokens');
    await b!.changes.publish('join_tokens');
    await tokensOnA;
  });

  it('listens again after its connection drops, and tells subscribers of every topic (they may have missed one)', async () => {
    const server = await postgresServer();
    const url = await server.createDatabase();
    const [a, b] = await replicas(url, 2);
    const heard: ChangeTopic[] = [];
    let told: () => void = () => {};
    b!.changes.subscribe((topic) => {
      heard.push(topic);
      if (['locks', 'join_tokens', 'roles'].every((t) => heard.includes(t as ChangeTopic))) told();
    });
    const everyTopic = new Promise<void>((resolve) => (told = resolve));
    const database = new URL(url).pathname.slice(1);
    const killed = await server.psql(
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${LISTENER_NAME}' AND datname = '${database}'`,
    );
    expect(Number(killed.trim())).toBe(2);
    await everyTopic;
    // And it hears what is published after.
    heard.length = 0;
    const next = new Promise<void>((resolve) => {
      const stop = b!.changes.subscribe((t) => t === 'roles' && (stop(), resolve()));
    });
    // The publisher's own listener may still be reconnecting: NOTIFY reaches whoever listens now.
    await a!.changes.publish('roles');
    await next;
  });

  it('keeps recordings in chunks: a retried chunk once, read back in order, any replica', async () => {
    const url = await (await postgresServer()).createDatabase();
    const [a, b] = await replicas(url, 2);
    const rec = a!.recordings!;
    expect(await rec.read('s1')).toBeUndefined();
    expect(await rec.size('s1')).toBe(0);
    await rec.append('s1', 1, new TextEncoder().encode('world'));
    await rec.append('s1', 0, new TextEncoder().encode('hello '));
    // A retry after a lost answer: the same seq is not kept twice, whatever it carries.
    await rec.append('s1', 1, new TextEncoder().encode('WORLD!'));
    await rec.append('s1', 2, new Uint8Array([0, 255, 10]));
    await rec.append('s2', 0, new TextEncoder().encode('other'));
    const read = await b!.recordings!.read('s1');
    expect(Buffer.from(read!).toString('latin1')).toBe('hello world\u0000\u00ff\n');
    expect(await b!.recordings!.size('s1')).toBe(14);
    await expect(rec.append('s1', -1, new Uint8Array([1]))).rejects.toThrow(RangeError);
  });

  it('keeps the first CA pair written when replicas create theirs at once', async () => {
    const url = await (await postgresServer()).createDatabase();
    const all = await replicas(url, 3);
    expect(await all[0]!.authorities!.load('user')).toBeUndefined();
    const kept = await Promise.all(all.map((s, i) => s.authorities!.createIfAbsent('user', { certPem: `cert-${i}`, keyPem: `key-${i}` })));
    expect(new Set(kept.map((k) => k.certPem)).size).toBe(1);
    expect(kept[0]!.keyPem).toBe(kept[0]!.certPem.replace('cert', 'key'));
    expect(await all[2]!.authorities!.load('user')).toEqual(kept[0]);
    expect(await all[2]!.authorities!.load('host')).toBeUndefined();
  });

  it('upserts a returning user from any replica', async () => {
    const url = await (await postgresServer()).createDatabase();
    const [a, b] = await replicas(url, 2);
    await a!.users.upsertLogin('alice', T0, { groups: ['eng'] });
    await b!.users.upsertLogin('alice', T0 + 5, { groups: ['ops'] });
    expect(await sql(url, 'SELECT name, created_at, last_login_at, traits FROM users')).toEqual([
      { name: 'alice', created_at: String(T0), last_login_at: String(T0 + 5), traits: '{"groups":["ops"]}' },
    ]);
  });
});

describe('CA pairs in PostgreSQL', () => {
  it('gives replicas starting together one CA, its key sealed with ca_key_secret', async () => {
    const url = await (await postgresServer()).createDatabase();
    const all = await replicas(url, 3);
    const options = (store: Storage['authorities']) => ({ dir: '/nonexistent/ca', kind: 'user' as const, clusterName: 'prod', clock: systemClock, keySecret: 'operator-secret', store });
    const cas = await Promise.all(all.map((s) => loadOrCreateAuthority(options(s.authorities))));
    expect(new Set(cas.map((ca) => ca.certificate.serialNumber)).size).toBe(1);
    expect(new Set(cas.map((ca) => ca.signingKey.export({ format: 'pem', type: 'pkcs8' }))).size).toBe(1);
    const [row] = await sql<{ key_pem: string }>(url, "SELECT key_pem FROM authorities WHERE kind = 'user'");
    expect(isEnvelope(row!.key_pem)).toBe(true);
    expect(row!.key_pem).not.toContain('PRIVATE KEY');
    // Another start reads the same pair; without the secret it refuses, with a hint.
    expect((await loadOrCreateAuthority(options(all[1]!.authorities))).certificate.serialNumber).toBe(cas[0]!.certificate.serialNumber);
    await expect(loadOrCreateAuthority({ ...options(all[2]!.authorities), keySecret: undefined })).rejects.toThrow(/encrypted but no key secret/);
  });
});

describe('openStorage', () => {
  it('opens PostgreSQL from a storage section, the password from the environment', async () => {
    const url = await (await postgresServer()).createDatabase();
    const storage = await openStorage({ engine: 'postgres', url, password_env: 'ZTSH_PG_PASSWORD', pool: 2 }, '/nonexistent', {
      secrets: { env: { ZTSH_PG_PASSWORD: 'unused-with-trust' }, baseDir: '/nonexistent' },
    });
    toClose.push(storage);
    expect(storage.recordings).not.toBeNull();
    await expect(openStorage({ engine: 'postgres', url, password_env: 'ZTSH_PG_MISSING' }, '/x', { secrets: { env: {}, baseDir: '/x' } })).rejects.toThrow(
      /ZTSH_PG_MISSING is not set/,
    );
  });

  it('names the database it cannot reach, and never the password', async () => {
    const server = await postgresServer();
    const url = `postgres://postgres@127.0.0.1:${server.port}/no_such_database`;
    const error = await openStorage({ engine: 'postgres', url, password_env: 'P' }, '/x', { secrets: { env: { P: 'hunter2-secret' }, baseDir: '/x' } }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/cannot open the PostgreSQL store at 127\.0\.0\.1:\d+\/no_such_database/);
    expect((error as Error).message).not.toContain('hunter2');
  });
});
