// SQLite storage (better-sqlite3, WAL). One file under the data dir. Every
// write is on disk before the returned promise settles, so before the caller
// answers its request: synchronous=FULL, except audit appends, whose WAL is
// synced on the thread pool instead (sqlite-audit.ts, same guarantee).
import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { AuditEvent } from '@ztsh/protocol';
import { migrate } from './migrations.ts';
import { localChanges } from './local-changes.ts';
import { sqliteAccessRequests } from './sqlite-access-requests.ts';
import { sqliteAudit } from './sqlite-audit.ts';
import { sqliteReplicas } from './sqlite-replicas.ts';
import { sqliteLocks, sqliteSessions } from './sqlite-sessions.ts';
import { sqliteWebSessions } from './sqlite-web-sessions.ts';
import { deviceFromRow, LOGIN_COLUMNS, loginColumnValue, loginFromRow } from './record-columns.ts';
import type { JoinTokenType, LoginRecord, MfaDevice, MfaFailures, NewAuditEvent, Storage } from './storage.ts';



type Row = Record<string, unknown>;

/**
 * Syncs the database's WAL file (fdatasync on the thread pool), as
 * synchronous=FULL would at a commit. The file is opened for each sync, so
 * a WAL SQLite deleted and made again is the one synced. None for a
 * database that keeps no WAL file (in memory).
 */
function walSync(db: Database.Database, path: string): (() => Promise<void>) | undefined {
  if (db.memory || String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return undefined;
  const wal = `${path}-wal`;
  return async () => {
    const file = await open(wal, 'r');
    try {
      await file.datasync();
    } finally {
      await file.close();
    }
  };
}



export function openSqliteStorage(path: string): Storage {
  const db = new Database(path);
  // It holds TOTP secrets and the audit log: owner only, like the CA keys.
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  const audit = sqliteAudit(db, walSync(db, path));

  const loginBy = (column: string) => {
    const stmt = db.prepare(`SELECT * FROM logins WHERE ${column} = ?`);
    return async (value: string) => loginFromRow(stmt.get(value) as Row | undefined, LOGIN_COLUMNS);
  };

  const updateLogin = (id: string, patch: Partial<LoginRecord>, whereStatus?: string): boolean => {
    const fields = Object.keys(patch) as (keyof LoginRecord)[];
    if (fields.length === 0) return true;
    const sets = fields.map((f) => `${LOGIN_COLUMNS[f]} = @${f}`).join(', ');
    const params: Record<string, unknown> = { id, whereStatus };
    for (const f of fields) params[f] = loginColumnValue(f, patch[f]);
    const sql = `UPDATE logins SET ${sets} WHERE id = @id${whereStatus ? ' AND status = @whereStatus' : ''}`;
    return db.prepare(sql).run(params).changes === 1;
  };

  const insertLogin = db.prepare(
    `INSERT INTO logins (${Object.values(LOGIN_COLUMNS).join(', ')}) VALUES (${Object.keys(LOGIN_COLUMNS)
      .map((f) => `@${f}`)
      .join(', ')})`,
  );


  const tokenFromRow = (row: Row): import('./storage.ts').JoinTokenRecord => ({
    id: row.id as string,
    hash: row.hash as string,
    type: row.type as 'agent',
    cluster: row.cluster as string,
    usesLeft: row.uses_left as number | null,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  });
  const redeemToken = db.transaction((hash: string, type: JoinTokenType, cluster: string, now: number) => {
    const row = db.prepare('SELECT * FROM join_tokens WHERE hash = ?').get(hash) as Row | undefined;
    if (!row) return 'unknown' as const;
    const token = tokenFromRow(row);
    if (token.type !== type) return 'wrong_type' as const;
    if (token.expiresAt <= now) return 'expired' as const;
    if (token.cluster !== cluster) return 'wrong_cluster' as const;
    if (token.usesLeft !== null) {
      if (token.usesLeft <= 0) return 'used' as const;
      db.prepare('UPDATE join_tokens SET uses_left = uses_left - 1 WHERE id = ?').run(token.id);
    }
    return token;
  });

  const setFailures = db.prepare(
    `INSERT INTO mfa_failures (user, failures, locked_until) VALUES (?, ?, ?)
     ON CONFLICT(user) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until`,
  );
  const recordFailure = db.transaction((user: string, next: (current: MfaFailures) => MfaFailures): MfaFailures => {
    const row = db.prepare('SELECT failures, locked_until FROM mfa_failures WHERE user = ?').get(user) as Row | undefined;
    const value = next({ failures: (row?.failures as number) ?? 0, lockedUntil: (row?.locked_until as number) ?? 0 });
    setFailures.run(user, value.failures, value.lockedUntil);
    return value;
  });

  const changes = localChanges();

  return {
    joinTokens: {
      insert: async (t) =>
        void db
          .prepare('INSERT INTO join_tokens (id, hash, type, cluster, uses_left, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(t.id, t.hash, t.type, t.cluster, t.usesLeft, t.createdAt, t.expiresAt),
      list: async () => (db.prepare('SELECT * FROM join_tokens ORDER BY created_at').all() as Row[]).map(tokenFromRow),
      remove: async (id) => db.prepare('DELETE FROM join_tokens WHERE id = ?').run(id).changes === 1,
      redeem: async (hash, type, cluster, now) => redeemToken.immediate(hash, type, cluster, now),
    },
    logins: {
      insert: async (login) => {
        const params: Record<string, unknown> = {};
        for (const f of Object.keys(LOGIN_COLUMNS) as (keyof LoginRecord)[]) params[f] = loginColumnValue(f, login[f]);
        insertLogin.run(params);
      },
      get: loginBy('id'),
      findByState: loginBy('oidc_state'),
      findByCodeHash: loginBy('code_hash'),
      findByUserCode: loginBy('user_code'),
      findByDeviceCodeHash: loginBy('device_code_hash'),
      update: async (id, patch) => void updateLogin(id, patch),
      transition: async (id, from, patch) => updateLogin(id, patch, from),
      deleteExpired: async (before) => db.prepare('DELETE FROM logins WHERE expires_at < ?').run(before).changes,
    },
    mfa: {
      list: async (user) =>
        (db.prepare('SELECT * FROM mfa_devices WHERE user = ? ORDER BY created_at').all(user) as Row[]).map((row) => deviceFromRow(row, 'user')),
      add: async (d) =>
        void db
          .prepare(
            `INSERT INTO mfa_devices (id, user, kind, name, secret, last_time_step, credential_id, public_key, counter, transports, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            d.id,
            d.user,
            d.kind,
            d.name,
            d.kind === 'totp' ? d.secret : null,
            d.kind === 'totp' ? d.lastTimeStep : null,
            d.kind === 'webauthn' ? d.credentialId : null,
            d.kind === 'webauthn' ? Buffer.from(d.publicKey) : null,
            d.kind === 'webauthn' ? d.counter : null,
            d.kind === 'webauthn' ? JSON.stringify(d.transports) : null,
            d.createdAt,
          ),
      credentialRegistered: async (credentialId) => db.prepare('SELECT 1 FROM mfa_devices WHERE credential_id = ?').get(credentialId) !== undefined,
      advanceTotpStep: async (id, step) =>
        db.prepare('UPDATE mfa_devices SET last_time_step = ? WHERE id = ? AND last_time_step < ?').run(step, id, step)
          .changes === 1,
      setWebauthnCounter: async (id, counter) => void db.prepare('UPDATE mfa_devices SET counter = ? WHERE id = ?').run(counter, id),
      failures: async (user) => {
        const row = db.prepare('SELECT failures, locked_until FROM mfa_failures WHERE user = ?').get(user) as Row | undefined;
        return { failures: (row?.failures as number) ?? 0, lockedUntil: (row?.locked_until as number) ?? 0 };
      },
      setFailures: async (user, v) => void setFailures.run(user, v.failures, v.lockedUntil),
      // IMMEDIATE: the write lock is taken before the read, so another process on this file waits.
      recordFailure: async (user, next) => recordFailure.immediate(user, next),
    },
    users: {
      upsertLogin: async (user, at, traits) =>
        void db
          .prepare(
            `INSERT INTO users (name, created_at, last_login_at, traits) VALUES (?, ?, ?, ?)
             ON CONFLICT(name) DO UPDATE SET last_login_at = excluded.last_login_at, traits = excluded.traits`,
          )
          .run(user, at, at, JSON.stringify(traits)),
    },
    audit,
    sessions: sqliteSessions(db),
    locks: sqliteLocks(db),
    webSessions: sqliteWebSessions(db),
    accessRequests: sqliteAccessRequests(db),
    // Recordings and CA pairs stay files under the data dir.
    recordings: null,
    authorities: null,
    replicas: sqliteReplicas(db),
    changes,
    // Every write was synchronous but an audit append's WAL sync: those are awaited.
    close: async () => {
      await audit.settled();
      changes.clear();
      db.close();
    },
  };
}
