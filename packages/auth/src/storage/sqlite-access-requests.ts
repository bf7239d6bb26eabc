// Access requests in SQLite. Every state change is a compare-and-set on the
// row's version, so two processes on one file never both decide a request.
import type { Database } from 'better-sqlite3';
import { accessRequestFromRow, accessRequestInsert, accessRequestPatch, MAX_ACCESS_REQUEST_LIST } from './access-request-columns.ts';
import type { Storage } from './storage.ts';

type Row = Record<string, unknown>;

export function sqliteAccessRequests(db: Database): Storage['accessRequests'] {
  const get = db.prepare('SELECT * FROM access_requests WHERE id = ?');
  const due = db.prepare(
    `SELECT * FROM access_requests
     WHERE (state = 'pending' AND pending_until <= @now) OR (state = 'approved' AND access_until <= @now)
     ORDER BY created_at LIMIT @limit`,
  );
  const pending = db.prepare("SELECT count(*) AS n FROM access_requests WHERE user = ? AND state = 'pending'");
  return {
    insert: async (r) => {
      const { columns, values } = accessRequestInsert(r, 'user');
      db.prepare(`INSERT INTO access_requests (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...values);
    },
    get: async (id) => {
      const row = get.get(id) as Row | undefined;
      return row ? accessRequestFromRow(row, 'user') : undefined;
    },
    list: async (query) => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.user !== undefined) {
        where.push('user = ?');
        params.push(query.user);
      }
      if (query.state !== undefined) {
        where.push('state = ?');
        params.push(query.state);
      }
      const limit = Math.min(Math.max(1, query.limit ?? MAX_ACCESS_REQUEST_LIST), MAX_ACCESS_REQUEST_LIST);
      const sql = `SELECT * FROM access_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
      return (db.prepare(sql).all(...params) as Row[]).map((row) => accessRequestFromRow(row, 'user'));
    },
    due: async (now, limit) => (due.all({ now, limit }) as Row[]).map((row) => accessRequestFromRow(row, 'user')),
    update: async (id, version, patch) => {
      const { sets, values } = accessRequestPatch(patch, () => '?', 0);
      return db.prepare(`UPDATE access_requests SET ${sets} WHERE id = ? AND version = ?`).run(...values, id, version).changes === 1;
    },
    pendingCount: async (user) => (pending.get(user) as { n: number }).n,
  };
}
