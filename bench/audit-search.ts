// Audit search as an auditor uses it, over a month of a busy deployment's
// events (audit-events.ts) in the real store, SQLite or PostgreSQL (a server
// of its own, as deployed: fsync on, default settings): by user, user and
// cluster, type, refusals, the last week, words (a command, a pod name, a
// common word), user and words, and the second page of some of those.
// Each kind runs many times with varying users and clusters; the baseline is
// a primary-key lookup in the same database, over the same kind of
// connection (in process for SQLite, a round trip to PostgreSQL).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStorage, openSqliteStorage, type AuditQuery, type Storage } from '@ztsh/auth';
import { startPostgres } from '../test/helpers/postgres.ts';
import { CLUSTERS, DAYS, END, generateAudit, USERS } from './audit-events.ts';

export type AuditEngine = 'sqlite' | 'postgres';

/** A store to fill and search, how big it is on disk, its primary-key baseline, and how to throw it away. */
interface BenchStore {
  storage: Storage;
  bytes(): Promise<number>;
  primaryKeyP50(events: number): Promise<number>;
  close(): Promise<void>;
}

async function sqliteStore(): Promise<BenchStore> {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-audit-'));
  const path = join(dir, 'ztsh.db');
  const storage = openSqliteStorage(path);
  return {
    storage,
    bytes: async () => statSync(path).size,
    primaryKeyP50: async (events) => {
      const db = new Database(path, { readonly: true });
      try {
        const get = db.prepare('SELECT * FROM audit_events WHERE seq = ?');
        return await lookupP50(events, async (seq) => get.get(seq));
      } finally {
        db.close();
      }
    },
    close: async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresStore(): Promise<BenchStore> {
  const server = await startPostgres();
  try {
    const url = await server.createDatabase();
    const storage = await openPostgresStorage({ url });
    return {
      storage,
      bytes: async () => Number(await server.psql('SELECT pg_database_size(current_database())', new URL(url).pathname.slice(1))),
      // The engine's own read by seq (an index lookup on the primary key, one round trip).
      primaryKeyP50: (events) => lookupP50(events, (seq) => storage.audit.list({ afterSeq: seq - 1, limit: 1 })),
      close: async () => {
        await storage.close();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

export interface AuditSearchRun {
  events: number;
  generateSeconds: number;
  dbBytes: number;
  /** All queries together. */
  p50: number;
  p95: number;
  kinds: { kind: string; queries: number; p50: number; p95: number }[];
  /** One event by seq (primary key), p50 ms. */
  primaryKeyP50: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function measureAuditSearch(events: number, say: (text: string) => void, engine: AuditEngine = 'sqlite'): Promise<AuditSearchRun> {
  const store = engine === 'sqlite' ? await sqliteStore() : await postgresStore();
  const { storage } = store;
  try {
    const generated = generateAudit(events);
    const start = performance.now();
    let done = 0;
    for (const batch of generated.batches(10_000)) {
      await storage.audit.appendMany(batch);
      done += batch.length;
      if (done % 250_000 === 0) say(`  ${done / 1000}k events appended (${((performance.now() - start) / 1000).toFixed(0)} s)\n`);
    }
    const generateSeconds = (performance.now() - start) / 1000;
    const dbBytes = await store.bytes();
    say(`  ${events} events over ${DAYS} days appended in ${generateSeconds.toFixed(1)} s (${(events / generateSeconds).toFixed(0)}/s), database ${(dbBytes / 2 ** 20).toFixed(0)} MiB\n`);

    const kinds = await auditorQueries(storage, generated.somePod);
    const all: number[] = [];
    const perKind: AuditSearchRun['kinds'] = [];
    for (const [kind, queries] of kinds) {
      for (const q of queries.slice(0, 10)) await storage.audit.search(q); // warm up
      const times: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (const q of queries) {
          const t = performance.now();
          await storage.audit.search(q);
          times.push(performance.now() - t);
        }
      }
      times.sort((a, b) => a - b);
      all.push(...times);
      perKind.push({ kind, queries: times.length, p50: pct(times, 50), p95: pct(times, 95) });
      say(`  ${kind.padEnd(28)} ${String(times.length).padStart(4)} queries  p50 ${pct(times, 50).toFixed(2).padStart(6)} ms  p95 ${pct(times, 95).toFixed(2).padStart(6)} ms\n`);
    }
    all.sort((a, b) => a - b);
    return { events, generateSeconds, dbBytes, p50: pct(all, 50), p95: pct(all, 95), kinds: perKind, primaryKeyP50: await store.primaryKeyP50(events) };
  } finally {
    await store.close();
  }
}

async function lookupP50(events: number, get: (seq: number) => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const seq = 1 + ((i * 7919 * 104_729) % events);
    const t = performance.now();
    await get(seq);
    times.push(performance.now() - t);
  }
  const measured = times.slice(200).sort((a, b) => a - b); // the first ones warm the cache
  return pct(measured, 50);
}

/** The queries of each kind, with users, clusters and cursors taken from the data as an auditor would. */
async function auditorQueries(storage: Storage, somePod: string): Promise<[string, AuditQuery[]][]> {
  const since = new Date(END - 7 * 86_400_000).toISOString();
  // Where each user mostly works, from their newest requests.
  const mainCluster = new Map<string, string>();
  for (const user of USERS) {
    const counts = new Map<string, number>();
    for (const e of await storage.audit.search({ user, type: 'kube.request', limit: 200 })) {
      const c = String(e.fields.cluster);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    mainCluster.set(user, [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? CLUSTERS[0]!);
  }
  const users = (n: number) => Array.from({ length: n }, (_, i) => USERS[(i * 7) % USERS.length]!);
  const cycle = <T>(xs: T[], n: number) => Array.from({ length: n }, (_, i) => xs[i % xs.length]!);
  const N = 50;
  const texts = ['rm -rf', somePod, 'secrets', 'kill -9', 'psql'];
  const kinds: [string, AuditQuery[]][] = [
    ['by user', users(N).map((user) => ({ user }))],
    ['by user + cluster', users(N).map((user) => ({ user, cluster: mainCluster.get(user)! }))],
    ['by type', cycle<AuditQuery>([{ type: 'session.start' }, { type: 'user.login' }, { type: 'session.*' }, { type: 'cert.issued' }, { type: 'lock.' }, { type: 'port_forward.' }], N)],
    ['failures', cycle<AuditQuery>([{ success: false }, { success: false, text: 'secrets' }, ...CLUSTERS.map((cluster) => ({ success: false, cluster }))], N)],
    ['last 7 days', cycle<AuditQuery>([{ since }, ...CLUSTERS.map((cluster) => ({ since, cluster })), { since, type: 'session.start' }], N)],
    ['text', cycle(texts.map((text) => ({ text })), N)],
    ['user + text', users(N).map((user, i) => ({ user, text: i % 2 ? 'secrets' : 'sh' }))],
  ];
  // Page 2 of some of the above: the cursor is page 1's last event.
  const firstPages = [...kinds[0]![1].slice(0, 10), ...kinds[3]![1].slice(0, 10), ...kinds[5]![1].slice(0, 10), ...kinds[6]![1].slice(0, 10)];
  const secondPages: AuditQuery[] = [];
  for (const q of firstPages) {
    const last = (await storage.audit.search(q)).at(-1);
    if (last) secondPages.push({ ...q, before: { time: last.time, seq: last.seq } });
  }
  kinds.push(['page 2 (before cursor)', cycle(secondPages, N)]);
  return kinds;
}
