// Schema migrations, applied in order at open; user_version records the last.
import type { Database } from 'better-sqlite3';

const MIGRATIONS: string[] = [
  `CREATE TABLE logins (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     connector TEXT NOT NULL,
     public_key TEXT NOT NULL,
     redirect TEXT,
     verifier_hash TEXT NOT NULL,
     ttl_ms INTEGER,
     client TEXT,
     client_ip TEXT NOT NULL,
     status TEXT NOT NULL,
     browser_hash TEXT,
     oidc_state TEXT UNIQUE,
     oidc_nonce TEXT,
     pkce_verifier TEXT,
     user TEXT,
     grant_json TEXT,
     mfa_method TEXT,
     mfa_pending TEXT,
     code_hash TEXT UNIQUE,
     code_expires_at INTEGER,
     user_code TEXT UNIQUE,
     device_code_hash TEXT UNIQUE,
     last_poll_at INTEGER,
     error TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX logins_expires ON logins (expires_at);
   CREATE TABLE users (
     name TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     last_login_at INTEGER,
     traits TEXT NOT NULL DEFAULT '{}'
   );
   CREATE TABLE mfa_devices (
     id TEXT PRIMARY KEY,
     user TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('totp', 'webauthn')),
     name TEXT NOT NULL,
     secret TEXT,
     last_time_step INTEGER,
     credential_id TEXT UNIQUE,
     public_key BLOB,
     counter INTEGER,
     transports TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX mfa_devices_user ON mfa_devices (user);
   CREATE TABLE mfa_failures (
     user TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     locked_until INTEGER NOT NULL
   );
   CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     time TEXT NOT NULL,
     type TEXT NOT NULL,
     code TEXT NOT NULL,
     success INTEGER NOT NULL,
     user TEXT,
     login_id TEXT,
     client_ip TEXT,
     message TEXT,
     fields TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_events_time ON audit_events (time);
   CREATE INDEX audit_events_user ON audit_events (user, time);`,
  `CREATE TABLE join_tokens (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL CHECK (type IN ('agent')),
     cluster TEXT NOT NULL,
     uses_left INTEGER,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
];

export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this ztshd understands (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
