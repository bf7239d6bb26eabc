// Recorded sessions (their metadata and the text search sees) and locks, in
// PostgreSQL: the same records and the same search as sqlite-sessions.ts.
import type pg from 'pg';
import { queryable, type Queryable, type Row } from './postgres-pool.ts';
import { phrasePattern, searchDocument } from './search-words.ts';
import { PAGE } from './sqlite-audit.ts';
import { likeEscape } from './sqlite-sessions.ts';
import { SESSION_COLUMNS as SHARED_SESSION_COLUMNS, SESSION_JSON_COLUMNS } from './record-columns.ts';
import { POSTGRES, SqlFilter } from './sql-filter.ts';
import { lockTargetFromRow, lockTargetRow } from './lock-columns.ts';
import type { LockRecord, SessionQuery, SessionRecord, Storage } from './storage.ts';

/** The shared columns, with PostgreSQL's name for the user column. */
const SESSION_COLUMNS: Record<keyof SessionRecord, string> = { ...SHARED_SESSION_COLUMNS, user: 'user_name' };
const FIELDS = Object.keys(SESSION_COLUMNS) as (keyof SessionRecord)[];

function toColumn(field: keyof SessionRecord, value: unknown): unknown {
  if (SESSION_JSON_COLUMNS.has(field)) return JSON.stringify(value);
  if (field === 'tty') return Boolean(value);
  return value ?? null;
}

function sessionFromRow(row: Row): SessionRecord {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = row[SESSION_COLUMNS[field]];
    out[field] = SESSION_JSON_COLUMNS.has(field) ? JSON.parse(value as string) : value;
  }
  return out as unknown as SessionRecord;
}

export function postgresSessions(pool: pg.Pool): Storage['sessions'] {
  const db = queryable(pool);
  return {
    insert: async (session, proxyId = null) => {
      const values = [...FIELDS.map((f) => toColumn(f, session[f])), proxyId];
      await db.query(
        `INSERT INTO sessions (${FIELDS.map((f) => SESSION_COLUMNS[f]).join(', ')}, proxy_id) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})`,
        values,
      );
    },
    update: async (id, patch) => {
      const keys = (Object.keys(patch) as (keyof SessionRecord)[]).filter((k) => k !== 'id' && k in SESSION_COLUMNS);
      if (keys.length === 0) return;
      const sets = keys.map((k, i) => `${SESSION_COLUMNS[k]} = $${i + 2}`).join(', ');
      await db.query(`UPDATE sessions SET ${sets} WHERE id = $1`, [id, ...keys.map((k) => toColumn(k, (patch as Partial<SessionRecord>)[k]))]);
    },
    get: async (id) => {
      const row = (await db.query('SELECT * FROM sessions WHERE id = $1', [id])).rows[0];
      return row ? sessionFromRow(row) : undefined;
    },
    withPrefix: async (prefix) => {
      // The prefix reaches SQL only as a parameter, with LIKE's own wildcards escaped. ILIKE under
      // COLLATE "C" folds ASCII letters only: SQLite's LIKE, so an id prefix finds the same sessions.
      const row = (await db.query("SELECT count(*) AS count, min(id) AS id FROM sessions WHERE id ILIKE $1 ESCAPE '\\'", [`${likeEscape(prefix)}%`])).rows[0]!;
      return { count: row.count as number, id: (row.id as string | null) ?? undefined };
    },
    search: (q) => searchSessions(db, q),
    index: async (id, command, content) => {
      await db.query(
        `INSERT INTO session_text (session_id, command, content) VALUES ($1, $2, $3)
         ON CONFLICT (session_id) DO UPDATE SET command = excluded.command, content = excluded.content`,
        [id, searchDocument(command), searchDocument(content)],
      );
    },
    unfinished: async (proxyId = null) =>
      (await db.query('SELECT * FROM sessions WHERE ended_at IS NULL AND proxy_id IS NOT DISTINCT FROM $1 ORDER BY started_at', [proxyId])).rows.map(sessionFromRow),
    proxyOf: async (id) => {
      const row = (await db.query('SELECT proxy_id FROM sessions WHERE id = $1', [id])).rows[0];
      return row ? ((row.proxy_id as string | null) ?? null) : undefined;
    },
  };
}

async function searchSessions(db: Queryable, q: SessionQuery): Promise<SessionRecord[]> {
  const filter = new SqlFilter(POSTGRES)
    .equals('s.user_name', q.user)
    .equals('s.cluster', q.cluster)
    .equals('s.kind', q.kind)
    .atLeast('s.started_at', q.since)
    .below('s.started_at', q.until)
    .pageAfter(['s.started_at', 's.id'], q.before ? [q.before.startedAt, q.before.id] : undefined);
  let from = 'sessions s';
  if (q.text) {
    const pattern = phrasePattern(q.text);
    if (pattern === undefined) return [];
    // As in FTS5, a phrase is found within one column: the command, or what was typed and shown.
    from = 'session_text f JOIN sessions s ON s.id = f.session_id';
    filter.where((p) => {
      const like = p(pattern);
      return `(f.command LIKE ${like} OR f.content LIKE ${like})`;
    });
  }
  const sql = `SELECT s.* FROM ${from} ${filter.clause} ORDER BY s.started_at DESC, s.id DESC ${filter.limit(q.limit, PAGE)}`;
  return (await db.query(sql, filter.params)).rows.map(sessionFromRow);
}

function lockFromRow(row: Row): LockRecord {
  return {
    id: row.id as string,
    target: lockTargetFromRow(row.target_kind as string, row.target as string),
    message: (row.message as string | null) ?? null,
    createdBy: row.created_by as string,
    createdAt: row.created_at as number,
    expiresAt: (row.expires_at as number | null) ?? null,
  };
}

export function postgresLocks(pool: pg.Pool): Storage['locks'] {
  const db = queryable(pool);
  return {
    insert: async (lock) => {
      await db.query('INSERT INTO locks (id, target_kind, target, message, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        lock.id,
        ...lockTargetRow(lock.target),
        lock.message,
        lock.createdBy,
        lock.createdAt,
        lock.expiresAt,
      ]);
    },
    remove: async (id) => (await db.query('DELETE FROM locks WHERE id = $1', [id])).rowCount === 1,
    active: async (now) =>
      (await db.query('SELECT * FROM locks WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at', [now])).rows.map(lockFromRow),
  };
}
