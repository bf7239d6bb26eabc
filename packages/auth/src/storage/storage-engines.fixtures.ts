// For the storage tests: each engine behind the Storage interface, so one
// suite runs against both (describe.each(ENGINES)) and they cannot drift.
// A store here is a fresh SQLite file or a fresh PostgreSQL database (one
// server per test file, from test/helpers/postgres.ts); `tamper` edits it
// behind the engine's back, the way an attacker with the database would.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startPostgres, type TestPostgres } from '../../../../test/helpers/postgres.ts';
import { openPostgresStorage } from './postgres.ts';
import { openSqliteStorage } from './sqlite.ts';
import type { Storage } from './storage.ts';

export type EngineName = 'sqlite' | 'postgres';

export interface TestStore {
  /** Another handle on the same store: a reopen, or another replica. */
  open(): Promise<Storage>;
  tamper: {
    /** Sets the message (or user, or success) of one audit event in place. */
    editEvent(seq: number, change: { message?: string; user?: string; success?: boolean; fields?: Record<string, unknown> }): Promise<void>;
    deleteEvent(seq: number): Promise<void>;
    setHash(seq: number, hash: string): Promise<void>;
  };
}

export interface TestEngine {
  name: EngineName;
  /** A new, empty store. */
  fresh(): Promise<TestStore>;
}

const opened: Storage[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
let server: Promise<TestPostgres> | undefined;

/** Starting or stopping a server of its own takes seconds on a loaded machine. */
export const SERVER_HOOK_MS = 120_000;

afterEach(async () => {
  for (const storage of opened.splice(0)) await storage.close().catch(() => {});
  for (const cleanup of cleanups.splice(0)) await cleanup();
}, SERVER_HOOK_MS);
afterAll(async () => {
  await (await server)?.stop();
}, SERVER_HOOK_MS);
// Started before the tests, so no test's own time limit pays for initdb.
beforeAll(async () => {
  if (ENGINES.some((e) => e.name === 'postgres')) await postgresServer();
}, SERVER_HOOK_MS);

const track = async (storage: Storage | Promise<Storage>): Promise<Storage> => {
  const s = await storage;
  opened.push(s);
  return s;
};

/** The PostgreSQL server of this test file, started on first use. */
export function postgresServer(): Promise<TestPostgres> {
  server ??= startPostgres();
  return server;
}

const sqlite: TestEngine = {
  name: 'sqlite',
  fresh: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-sqlite-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'ztsh.db');
    const raw = (sql: string, ...params: unknown[]) => {
      const db = new Database(path);
      try {
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    };
    return {
      open: () => track(openSqliteStorage(path)),
      tamper: {
        editEvent: async (seq, change) => {
          if (change.message !== undefined) raw('UPDATE audit_events SET message = ? WHERE seq = ?', change.message, seq);
          if (change.user !== undefined) raw('UPDATE audit_events SET user = ? WHERE seq = ?', change.user, seq);
          if (change.success !== undefined) raw('UPDATE audit_events SET success = ? WHERE seq = ?', change.success ? 1 : 0, seq);
          if (change.fields !== undefined) raw('UPDATE audit_events SET fields = ? WHERE seq = ?', JSON.stringify(change.fields), seq);
        },
        deleteEvent: async (seq) => raw('DELETE FROM audit_events WHERE seq = ?', seq),
        setHash: async (seq, hash) => raw('UPDATE audit_events SET hash = ? WHERE seq = ?', hash, seq),
      },
    };
  },
};

const postgres: TestEngine = {
  name: 'postgres',
  fresh: async () => {
    const url = await (await postgresServer()).createDatabase();
    const raw = async (sql: string, ...params: unknown[]) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(sql, params);
      } finally {
        await client.end();
      }
    };
    // The event is kept whole as JSON: an edit rewrites a key of it.
    const setKey = (seq: number, key: string, value: unknown) =>
      raw('UPDATE audit_events SET event = jsonb_set(event::jsonb, $2, $3::jsonb)::text WHERE seq = $1', seq, [key], JSON.stringify(value));
    return {
      open: () => track(openPostgresStorage({ url })),
      tamper: {
        editEvent: async (seq, change) => {
          for (const [key, value] of Object.entries(change)) if (value !== undefined) await setKey(seq, key, value);
        },
        deleteEvent: (seq) => raw('DELETE FROM audit_events WHERE seq = $1', seq),
        setHash: (seq, hash) => setKey(seq, 'hash', hash),
      },
    };
  },
};

/** Both engines; ZTSH_STORAGE_ENGINES=postgres (or sqlite) runs one. */
export const ENGINES: TestEngine[] = [sqlite, postgres].filter((e) => {
  const only = process.env.ZTSH_STORAGE_ENGINES?.split(',');
  return !only || only.includes(e.name);
});
