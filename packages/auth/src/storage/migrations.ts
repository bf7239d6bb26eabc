// Schema migrations, applied in order at open; user_version records the last.
import type { Database } from 'better-sqlite3';

export const MIGRATIONS: string[] = [
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
  // Auditors search by cluster and session as often as by user; both live in
  // the event's fields, so they are exposed as generated columns to index.
  // Text search (commands, messages, what was typed and shown in sessions)
  // is FTS5; the event index holds no copy of the text (contentless).
  `ALTER TABLE audit_events ADD COLUMN cluster TEXT GENERATED ALWAYS AS (json_extract(fields, '$.cluster')) VIRTUAL;
   ALTER TABLE audit_events ADD COLUMN session_id TEXT GENERATED ALWAYS AS (json_extract(fields, '$.sessionId')) VIRTUAL;
   CREATE INDEX audit_events_cluster ON audit_events (cluster, time);
   CREATE INDEX audit_events_session ON audit_events (session_id) WHERE session_id IS NOT NULL;
   CREATE INDEX audit_events_type ON audit_events (type, time);
   CREATE VIRTUAL TABLE audit_fts USING fts5(text, content='', contentless_delete=0);
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('exec', 'attach', 'cp', 'portforward')),
     user TEXT NOT NULL,
     roles TEXT NOT NULL,
     cluster TEXT NOT NULL,
     namespace TEXT NOT NULL,
     pod TEXT NOT NULL,
     container TEXT,
     command TEXT NOT NULL,
     tty INTEGER NOT NULL,
     kube_user TEXT NOT NULL,
     kube_groups TEXT NOT NULL,
     client_ip TEXT,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     exit_code INTEGER,
     end_reason TEXT,
     bytes_in INTEGER NOT NULL DEFAULT 0,
     bytes_out INTEGER NOT NULL DEFAULT 0,
     recording_path TEXT,
     recording_size INTEGER
   );
   CREATE INDEX sessions_started ON sessions (started_at);
   CREATE INDEX sessions_user ON sessions (user, started_at);
   CREATE INDEX sessions_cluster ON sessions (cluster, started_at);
   CREATE VIRTUAL TABLE sessions_fts USING fts5(session_id UNINDEXED, command, content);
   CREATE TABLE locks (
     id TEXT PRIMARY KEY,
     target_kind TEXT NOT NULL CHECK (target_kind IN ('user', 'role')),
     target TEXT NOT NULL,
     message TEXT,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER
   );`,
  // Signed-in browsers of the auditors' web page: only the hash of each
  // cookie's token is kept.
  `CREATE TABLE web_sessions (
     hash TEXT PRIMARY KEY,
     user TEXT NOT NULL,
     roles TEXT NOT NULL,
     login_id TEXT NOT NULL,
     client_ip TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX web_sessions_expires ON web_sessions (expires_at);`,
  // Audit search over millions of events: user and cluster together are an
  // auditor's commonest pair, and without this index one of them is scanned.
  `CREATE INDEX audit_events_user_cluster ON audit_events (user, cluster, time);`,
  // Refusals are a few percent of all events: an auditor's search for them
  // reads this small index newest first instead of passing over the rest.
  `CREATE INDEX audit_events_failures ON audit_events (time) WHERE success = 0;`,
  // A proxy may run apart from auth: proxies join with their own token type,
  // and each session remembers which proxy relayed it (NULL: the proxy in
  // this process), so a restarted proxy closes only its own interrupted
  // sessions. SQLite cannot change a CHECK in place: the table is rebuilt.
  `CREATE TABLE join_tokens_v7 (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL CHECK (type IN ('agent', 'proxy')),
     cluster TEXT NOT NULL,
     uses_left INTEGER,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   INSERT INTO join_tokens_v7 SELECT id, hash, type, cluster, uses_left, created_at, expires_at FROM join_tokens;
   DROP TABLE join_tokens;
   ALTER TABLE join_tokens_v7 RENAME TO join_tokens;
   ALTER TABLE sessions ADD COLUMN proxy_id TEXT;
   CREATE INDEX sessions_unfinished ON sessions (proxy_id) WHERE ended_at IS NULL;`,
  // Proxy replicas sharing this store: each upserts its row on every
  // heartbeat, and the live ones are those heard from lately.
  `CREATE TABLE replicas (
     id TEXT PRIMARY KEY,
     addr TEXT,
     started_at INTEGER NOT NULL,
     heartbeat_at INTEGER NOT NULL
   );`,
  // Access requests (access-requests/): lists and reviews as JSON text; the
  // expiry sweep reads pending and approved ones by their end.
  `CREATE TABLE access_requests (
     id TEXT PRIMARY KEY,
     user TEXT NOT NULL,
     roles TEXT NOT NULL,
     resources TEXT NOT NULL,
     reason TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'dropped', 'expired')),
     created_at INTEGER NOT NULL,
     pending_until INTEGER NOT NULL,
     duration_ms INTEGER NOT NULL,
     access_until INTEGER,
     thresholds TEXT NOT NULL,
     suggested_reviewers TEXT NOT NULL,
     reviews TEXT NOT NULL,
     version INTEGER NOT NULL
   );
   CREATE INDEX access_requests_user ON access_requests (user, created_at);
   CREATE INDEX access_requests_created ON access_requests (created_at);
   CREATE INDEX access_requests_pending ON access_requests (pending_until) WHERE state = 'pending';
   CREATE INDEX access_requests_approved ON access_requests (access_until) WHERE state = 'approved';`,
  // A session MFA check in the browser is a login record of kind
  // session_mfa; its bindings (clusters, the certificate it was started
  // with) are JSON text, NULL on every other kind.
  `ALTER TABLE logins ADD COLUMN session_mfa TEXT;`,
  // Locks on an access request (made when an approved one is dropped): a
  // CHECK cannot be changed in SQLite, so the table is made again.
  `CREATE TABLE locks_new (
     id TEXT PRIMARY KEY,
     target_kind TEXT NOT NULL CHECK (target_kind IN ('user', 'role', 'access_request')),
     target TEXT NOT NULL,
     message TEXT,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER
   );
   INSERT INTO locks_new SELECT id, target_kind, target, message, created_by, created_at, expires_at FROM locks;
   DROP TABLE locks;
   ALTER TABLE locks_new RENAME TO locks;`,
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
