// PostgreSQL schema migrations: versioned, applied in order at start, each
// in its own transaction. Replicas starting together take one session
// advisory lock first, so exactly one of them migrates and the others find
// the schema done.
import type { Pool } from 'pg';
import { ZtshError } from '@ztsh/protocol';
import { GENESIS_HASH } from './audit-chain.ts';
import { MAX_INDEXED_WORD } from './search-words.ts';

/** pg_advisory_lock key of the migrations ("ztsh" in ASCII). */
export const MIGRATION_LOCK = 0x7a747368;

// Differences from the SQLite schema, on purpose:
// - Text that is ordered or compared by range (times, types, ids) is
//   COLLATE "C": byte order, as SQLite's BINARY, so pages and prefixes are
//   the same on both engines whatever the database's locale.
// - An audit event is kept whole as JSON text (the hashed record; JSON
//   escapes what PostgreSQL text cannot hold, such as NUL) beside the columns
//   search filters on.
// - Searchable text is kept as the words FTS5 would see (search-words.ts),
//   indexed by trigrams (pg_trgm, GIN): an FTS5 phrase is then a LIKE
//   substring of those words, the same matches as SQLite. A tsvector is not
//   used: its parser splits text differently from FTS5 (paths, hyphenated
//   words and e-mail addresses stay one token), caps positions at 16383 and a
//   document at 1 MB, so one query would find different events on each engine.
// - The chain head is a row of its own: appends lock it (SELECT ... FOR
//   UPDATE), so writers on every replica extend one chain.
export const MIGRATIONS: string[] = [
  `CREATE EXTENSION IF NOT EXISTS pg_trgm;
   CREATE TABLE logins (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     connector TEXT NOT NULL,
     public_key TEXT NOT NULL,
     redirect TEXT,
     verifier_hash TEXT NOT NULL,
     ttl_ms BIGINT,
     client TEXT,
     client_ip TEXT NOT NULL,
     status TEXT NOT NULL,
     browser_hash TEXT,
     oidc_state TEXT UNIQUE,
     oidc_nonce TEXT,
     pkce_verifier TEXT,
     user_name TEXT,
     grant_json TEXT,
     mfa_method TEXT,
     mfa_pending TEXT,
     code_hash TEXT UNIQUE,
     code_expires_at BIGINT,
     user_code TEXT UNIQUE,
     device_code_hash TEXT UNIQUE,
     last_poll_at BIGINT,
     error TEXT,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX logins_expires ON logins (expires_at);
   CREATE TABLE users (
     name TEXT PRIMARY KEY,
     created_at BIGINT NOT NULL,
     last_login_at BIGINT,
     traits TEXT NOT NULL DEFAULT '{}'
   );
   CREATE TABLE mfa_devices (
     id TEXT PRIMARY KEY,
     user_name TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('totp', 'webauthn')),
     name TEXT NOT NULL,
     secret TEXT,
     last_time_step BIGINT,
     credential_id TEXT UNIQUE,
     public_key BYTEA,
     counter BIGINT,
     transports TEXT,
     created_at BIGINT NOT NULL
   );
   CREATE INDEX mfa_devices_user ON mfa_devices (user_name);
   CREATE TABLE mfa_failures (
     user_name TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     locked_until BIGINT NOT NULL
   );
   CREATE TABLE join_tokens (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL CHECK (type IN ('agent', 'proxy')),
     cluster TEXT NOT NULL,
     uses_left INTEGER,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE TABLE audit_head (
     one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
     seq BIGINT NOT NULL,
     hash TEXT NOT NULL
   );
   INSERT INTO audit_head (seq, hash) VALUES (0, '${GENESIS_HASH}');
   CREATE TABLE audit_events (
     seq BIGINT PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     time TEXT COLLATE "C" NOT NULL,
     type TEXT COLLATE "C" NOT NULL,
     success BOOLEAN NOT NULL,
     user_name TEXT,
     cluster TEXT,
     session_id TEXT,
     event TEXT NOT NULL,
     search TEXT NOT NULL
   );
   CREATE INDEX audit_events_time ON audit_events (time, seq);
   CREATE INDEX audit_events_user ON audit_events (user_name, time);
   CREATE INDEX audit_events_cluster ON audit_events (cluster, time);
   CREATE INDEX audit_events_user_cluster ON audit_events (user_name, cluster, time);
   CREATE INDEX audit_events_type ON audit_events (type, time);
   CREATE INDEX audit_events_session ON audit_events (session_id) WHERE session_id IS NOT NULL;
   CREATE INDEX audit_events_failures ON audit_events (time) WHERE NOT success;
   CREATE INDEX audit_events_search ON audit_events USING gin (search gin_trgm_ops);
   CREATE TABLE sessions (
     id TEXT COLLATE "C" PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('exec', 'attach', 'cp', 'portforward')),
     user_name TEXT NOT NULL,
     roles TEXT NOT NULL,
     cluster TEXT NOT NULL,
     namespace TEXT NOT NULL,
     pod TEXT NOT NULL,
     container TEXT,
     command TEXT NOT NULL,
     tty BOOLEAN NOT NULL,
     kube_user TEXT NOT NULL,
     kube_groups TEXT NOT NULL,
     client_ip TEXT,
     started_at BIGINT NOT NULL,
     ended_at BIGINT,
     exit_code INTEGER,
     end_reason TEXT,
     bytes_in BIGINT NOT NULL DEFAULT 0,
     bytes_out BIGINT NOT NULL DEFAULT 0,
     recording_path TEXT,
     recording_size BIGINT,
     proxy_id TEXT
   );
   CREATE INDEX sessions_started ON sessions (started_at, id);
   CREATE INDEX sessions_user ON sessions (user_name, started_at);
   CREATE INDEX sessions_cluster ON sessions (cluster, started_at);
   CREATE INDEX sessions_unfinished ON sessions (proxy_id) WHERE ended_at IS NULL;
   CREATE TABLE session_text (
     session_id TEXT PRIMARY KEY,
     command TEXT NOT NULL,
     content TEXT NOT NULL
   );
   CREATE INDEX session_text_command ON session_text USING gin (command gin_trgm_ops);
   CREATE INDEX session_text_content ON session_text USING gin (content gin_trgm_ops);
   CREATE TABLE locks (
     id TEXT PRIMARY KEY,
     target_kind TEXT NOT NULL CHECK (target_kind IN ('user', 'role')),
     target TEXT NOT NULL,
     message TEXT,
     created_by TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT
   );
   CREATE TABLE web_sessions (
     hash TEXT PRIMARY KEY,
     user_name TEXT NOT NULL,
     roles TEXT NOT NULL,
     login_id TEXT NOT NULL,
     client_ip TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
   CREATE TABLE replicas (
     id TEXT PRIMARY KEY,
     addr TEXT,
     started_at BIGINT NOT NULL,
     heartbeat_at BIGINT NOT NULL
   );
   CREATE TABLE authorities (
     kind TEXT PRIMARY KEY CHECK (kind IN ('user', 'host')),
     cert_pem TEXT NOT NULL,
     key_pem TEXT NOT NULL
   );
   CREATE TABLE recording_chunks (
     session_id TEXT NOT NULL,
     seq INTEGER NOT NULL CHECK (seq >= 0),
     data BYTEA NOT NULL,
     PRIMARY KEY (session_id, seq)
   );`,
  // 2. Audit search by whole words. Trigrams are a poor prefilter for the
  // words auditors search for: 'secrets' is 7 trigrams each common on its
  // own, so the trigram index hands back every event with them (30k of 1M)
  // to be fetched, rechecked and sorted before a user filter or the newest-
  // first LIMIT can cut them down. Each event now also keeps its distinct
  // words (search-words.ts, written by the engine on append) in a text[]
  // with a GIN index: it finds exactly the events with all of a phrase's
  // words, and its statistics (how common each word is) let the planner see
  // when walking the time-ordered indexes newest-first and filtering stops
  // sooner. LIKE '% w1 w2 %' stays the exact test of words in a row, so the
  // results are still FTS5's. Words over 200 characters are left out (a GIN
  // key must fit in a third of a page, and an event must never fail to
  // append over a long word): queries leave them out of the prefilter too
  // and LIKE checks them. The trigram index had no other use and cost every
  // append: it goes.
  `ALTER TABLE audit_events ADD COLUMN words TEXT[] NOT NULL DEFAULT '{}';
   UPDATE audit_events SET words = ARRAY(
     SELECT DISTINCT w FROM unnest(string_to_array(btrim(search, ' '), ' ')) AS w WHERE length(w) <= ${MAX_INDEXED_WORD});
   CREATE INDEX audit_events_words ON audit_events USING gin (words);
   DROP INDEX audit_events_search;`,
  // 3. Access requests (access-requests/), as in SQLite; ids and times
  // compare in byte order like the other tables.
  `CREATE TABLE access_requests (
     id TEXT COLLATE "C" PRIMARY KEY,
     user_name TEXT NOT NULL,
     roles TEXT NOT NULL,
     resources TEXT NOT NULL,
     reason TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'dropped', 'expired')),
     created_at BIGINT NOT NULL,
     pending_until BIGINT NOT NULL,
     duration_ms BIGINT NOT NULL,
     access_until BIGINT,
     thresholds TEXT NOT NULL,
     suggested_reviewers TEXT NOT NULL,
     reviews TEXT NOT NULL,
     version INTEGER NOT NULL
   );
   CREATE INDEX access_requests_user ON access_requests (user_name, created_at);
   CREATE INDEX access_requests_created ON access_requests (created_at);
   CREATE INDEX access_requests_pending ON access_requests (pending_until) WHERE state = 'pending';
   CREATE INDEX access_requests_approved ON access_requests (access_until) WHERE state = 'approved';`,
  // 4. A session MFA check in the browser (kind session_mfa): its bindings, as in SQLite.
  `ALTER TABLE logins ADD COLUMN session_mfa TEXT;`,
  // 5. Locks on an access request (made when an approved one is dropped).
  `ALTER TABLE locks DROP CONSTRAINT locks_target_kind_check;
   ALTER TABLE locks ADD CONSTRAINT locks_target_kind_check CHECK (target_kind IN ('user', 'role', 'access_request'));`,
];

/** Applies the migrations this database lacks; the first of several replicas to get the lock does the work. */
export async function migratePostgres(pool: Pool): Promise<void> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ztsh_schema (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INTEGER NOT NULL);
         INSERT INTO ztsh_schema (version) VALUES (0) ON CONFLICT DO NOTHING;`,
      );
      const current = (await client.query<{ version: number }>('SELECT version FROM ztsh_schema')).rows[0]?.version ?? 0;
      if (current > MIGRATIONS.length) {
        throw new ZtshError('invalid_config', `database schema version ${current} is newer than this ztshd understands (${MIGRATIONS.length})`, {
          hint: 'run the ztshd version that last migrated this database, or a newer one',
        });
      }
      for (let v = current; v < MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v]!);
          await client.query('UPDATE ztsh_schema SET version = $1', [v + 1]);
          await client.query('COMMIT');
        } catch (cause) {
          await client.query('ROLLBACK');
          throw new ZtshError('invalid_config', `PostgreSQL migration ${v + 1} failed: ${(cause as Error).message}`, {
            cause,
            hint: 'the database user must own the database (it creates tables and the pg_trgm extension)',
          });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (error) {
    broken = error;
    throw error;
  } finally {
    // A connection that failed mid-way may hold the lock or a transaction: it is not reused.
    client.release(broken instanceof Error && !(broken instanceof ZtshError) ? broken : undefined);
  }
}
