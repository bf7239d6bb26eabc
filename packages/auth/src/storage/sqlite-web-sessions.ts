// Sessions of the auditors' web page, in SQLite: keyed by the hash of the
// cookie's token, so the database never holds a usable token.
import type { Database } from 'better-sqlite3';
import type { Storage, WebSessionRecord } from './storage.ts';

type Row = Record<string, unknown>;

function fromRow(row: Row): WebSessionRecord {
  return {
    hash: row.hash as string,
    user: row.user as string,
    roles: JSON.parse(row.roles as string) as string[],
    loginId: row.login_id as string,
    clientIp: row.client_ip as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
}

export function sqliteWebSessions(db: Database): Storage['webSessions'] {
  const insert = db.prepare(
    'INSERT INTO web_sessions (hash, user, roles, login_id, client_ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const get = db.prepare('SELECT * FROM web_sessions WHERE hash = ? AND expires_at > ?');
  const remove = db.prepare('DELETE FROM web_sessions WHERE hash = ?');
  const expired = db.prepare('DELETE FROM web_sessions WHERE expires_at < ?');
  return {
    insert: async (s) => void insert.run(s.hash, s.user, JSON.stringify(s.roles), s.loginId, s.clientIp, s.createdAt, s.expiresAt),
    get: async (hash, now) => {
      const row = get.get(hash, now) as Row | undefined;
      return row ? fromRow(row) : undefined;
    },
    remove: async (hash) => remove.run(hash).changes === 1,
    deleteExpired: async (before) => expired.run(before).changes,
  };
}
