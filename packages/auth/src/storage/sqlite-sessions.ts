// Recorded sessions (their metadata; the recordings themselves are files)
// and locks, in SQLite.
import type { Database } from 'better-sqlite3';
import { ftsPhrase, PAGE } from './sqlite-audit.ts';
import { SESSION_COLUMNS, SESSION_JSON_COLUMNS } from './record-columns.ts';
import { SQLITE, SqlFilter } from './sql-filter.ts';
import { lockTargetFromRow, lockTargetRow } from './lock-columns.ts';
import type { LockRecord, SessionQuery, SessionRecord, Storage } from './storage.ts';

type Row = Record<string, unknown>;



function toColumn(field: keyof SessionRecord, value: unknown): unknown {
  if (SESSION_JSON_COLUMNS.has(field)) return JSON.stringify(value);
  if (field === 'tty') return value ? 1 : 0;
  return value ?? null;
}

function sessionFromRow(row: Row): SessionRecord {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(SESSION_COLUMNS) as [keyof SessionRecord, string][]) {
    const value = row[column];
    out[field] = SESSION_JSON_COLUMNS.has(field) ? JSON.parse(value as string) : field === 'tty' ? value === 1 : value;
  }
  return out as unknown as SessionRecord;
}

export function sqliteSessions(db: Database): Storage['sessions'] {
  const fields = Object.keys(SESSION_COLUMNS) as (keyof SessionRecord)[];
  const insert = db.prepare(
    `INSERT INTO sessions (${fields.map((f) => SESSION_COLUMNS[f]).join(', ')}, proxy_id) VALUES (${fields.map((f) => `@${f}`).join(', ')}, @proxyId)`,
  );
  const get = db.prepare('SELECT * FROM sessions WHERE id = ?');
  // The prefix reaches SQL only as a parameter, with LIKE's own wildcards escaped.
  const withPrefix = db.prepare("SELECT COUNT(*) AS count, MIN(id) AS id FROM sessions WHERE id LIKE ? ESCAPE '\\'");
  const replaceText = db.transaction((id: string, command: string, content: string) => {
    db.prepare('DELETE FROM sessions_fts WHERE session_id = ?').run(id);
    db.prepare('INSERT INTO sessions_fts (session_id, command, content) VALUES (?, ?, ?)').run(id, command, content);
  });
  return {
    insert: async (session, proxyId = null) => {
      const params: Record<string, unknown> = { proxyId };
      for (const f of fields) params[f] = toColumn(f, session[f]);
      insert.run(params);
    },
    update: async (id, patch) => {
      const keys = (Object.keys(patch) as (keyof SessionRecord)[]).filter((k) => k !== 'id');
      if (keys.length === 0) return;
      const params: Record<string, unknown> = { id };
      for (const k of keys) params[k] = toColumn(k, patch[k]);
      db.prepare(`UPDATE sessions SET ${keys.map((k) => `${SESSION_COLUMNS[k]} = @${k}`).join(', ')} WHERE id = @id`).run(params);
    },
    get: async (id) => {
      const row = get.get(id) as Row | undefined;
      return row ? sessionFromRow(row) : undefined;
    },
    withPrefix: async (prefix) => {
      const row = withPrefix.get(`${likeEscape(prefix)}%`) as { count: number; id: string | null };
      return { count: row.count, id: row.id ?? undefined };
    },
    search: async (q) => searchSessions(db, q),
    index: async (id, command, content) => void replaceText(id, command, content),
    unfinished: async (proxyId = null) =>
      (db.prepare('SELECT * FROM sessions WHERE ended_at IS NULL AND proxy_id IS ? ORDER BY started_at').all(proxyId) as Row[]).map(sessionFromRow),
    proxyOf: async (id) => {
      const row = db.prepare('SELECT proxy_id FROM sessions WHERE id = ?').get(id) as { proxy_id: string | null } | undefined;
      return row ? row.proxy_id : undefined;
    },
  };
}

/** `text` as a LIKE pattern that matches only itself. */
export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function searchSessions(db: Database, q: SessionQuery): SessionRecord[] {
  const filter = new SqlFilter(SQLITE)
    .equals('s.user', q.user)
    .equals('s.cluster', q.cluster)
    .equals('s.kind', q.kind)
    .atLeast('s.started_at', q.since)
    .below('s.started_at', q.until)
    .pageAfter(['s.started_at', 's.id'], q.before ? [q.before.startedAt, q.before.id] : undefined);
  let from = 'sessions s';
  if (q.text) {
    const phrase = ftsPhrase(q.text);
    from = 'sessions_fts f JOIN sessions s ON s.id = f.session_id';
    filter.where((p) => `sessions_fts MATCH ${p(phrase)}`);
  }
  const sql = `SELECT s.* FROM ${from} ${filter.clause} ORDER BY s.started_at DESC, s.id DESC ${filter.limit(q.limit, PAGE)}`;
  return (db.prepare(sql).all(...filter.params) as Row[]).map(sessionFromRow);
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

export function sqliteLocks(db: Database): Storage['locks'] {
  return {
    insert: async (lock) =>
      void db
        .prepare('INSERT INTO locks (id, target_kind, target, message, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(lock.id, ...lockTargetRow(lock.target), lock.message, lock.createdBy, lock.createdAt, lock.expiresAt),
    remove: async (id) => db.prepare('DELETE FROM locks WHERE id = ?').run(id).changes === 1,
    active: async (now) =>
      (db.prepare('SELECT * FROM locks WHERE expires_at IS NULL OR expires_at > ? ORDER BY created_at').all(now) as Row[]).map(lockFromRow),
  };
}
