// Sessions of the auditors' web page, in PostgreSQL: keyed by the hash of the
// cookie's token, so the database never holds a usable token.
import type pg from 'pg';
import { queryable, type Row } from './postgres-pool.ts';
import type { Storage, WebSessionRecord } from './storage.ts';

function fromRow(row: Row): WebSessionRecord {
  return {
    hash: row.hash as string,
    user: row.user_name as string,
    roles: JSON.parse(row.roles as string) as string[],
    loginId: row.login_id as string,
    clientIp: row.client_ip as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
}

export function postgresWebSessions(pool: pg.Pool): Storage['webSessions'] {
  const db = queryable(pool);
  return {
    insert: async (s) => {
      await db.query(
        'INSERT INTO web_sessions (hash, user_name, roles, login_id, client_ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [s.hash, s.user, JSON.stringify(s.roles), s.loginId, s.clientIp, s.createdAt, s.expiresAt],
      );
    },
    get: async (hash, now) => {
      const row = (await db.query('SELECT * FROM web_sessions WHERE hash = $1 AND expires_at > $2', [hash, now])).rows[0];
      return row ? fromRow(row) : undefined;
    },
    remove: async (hash) => (await db.query('DELETE FROM web_sessions WHERE hash = $1', [hash])).rowCount === 1,
    deleteExpired: async (before) => (await db.query('DELETE FROM web_sessions WHERE expires_at < $1', [before])).rowCount,
  };
}
