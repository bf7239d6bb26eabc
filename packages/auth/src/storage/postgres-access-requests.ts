// Access requests in PostgreSQL. Every state change is one UPDATE that names
// the version it read: of several replicas reviewing or expiring the same
// request at once, exactly one writes.
import type pg from 'pg';
import { accessRequestFromRow, accessRequestInsert, accessRequestPatch, MAX_ACCESS_REQUEST_LIST } from './access-request-columns.ts';
import { queryable } from './postgres-pool.ts';
import type { Storage } from './storage.ts';

export function postgresAccessRequests(pool: pg.Pool): Storage['accessRequests'] {
  const db = queryable(pool);
  return {
    insert: async (r) => {
      const { columns, values } = accessRequestInsert(r, 'user_name');
      await db.query(`INSERT INTO access_requests (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, values);
    },
    get: async (id) => {
      const row = (await db.query('SELECT * FROM access_requests WHERE id = $1', [id])).rows[0];
      return row ? accessRequestFromRow(row, 'user_name') : undefined;
    },
    list: async (query) => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.user !== undefined) {
        params.push(query.user);
        where.push(`user_name = $${params.length}`);
      }
      if (query.state !== undefined) {
        params.push(query.state);
        where.push(`state = $${params.length}`);
      }
      const limit = Math.min(Math.max(1, query.limit ?? MAX_ACCESS_REQUEST_LIST), MAX_ACCESS_REQUEST_LIST);
      const sql = `SELECT * FROM access_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
      return (await db.query(sql, params)).rows.map((row) => accessRequestFromRow(row, 'user_name'));
    },
    due: async (now, limit) =>
      (
        await db.query(
          `SELECT * FROM access_requests
           WHERE (state = 'pending' AND pending_until <= $1) OR (state = 'approved' AND access_until <= $1)
           ORDER BY created_at LIMIT $2`,
          [now, limit],
        )
      ).rows.map((row) => accessRequestFromRow(row, 'user_name')),
    update: async (id, version, patch) => {
      const { sets, values } = accessRequestPatch(patch, (n) => `$${n}`, 0);
      const n = values.length;
      return (await db.query(`UPDATE access_requests SET ${sets} WHERE id = $${n + 1} AND version = $${n + 2}`, [...values, id, version])).rowCount === 1;
    },
    pendingCount: async (user) =>
      Number((await db.query("SELECT count(*)::bigint AS n FROM access_requests WHERE user_name = $1 AND state = 'pending'", [user])).rows[0]!.n),
  };
}
