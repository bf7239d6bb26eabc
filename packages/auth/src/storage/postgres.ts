// PostgreSQL storage (node-postgres, pooled): what several ztshd replicas
// share. Every write is committed (synchronous_commit as the server has it,
// on by default) before the returned promise settles. Migrations run at open
// under an advisory lock; the change feed listens on one dedicated
// connection.
import pg from 'pg';
import { postgresAccessRequests } from './postgres-access-requests.ts';
import { postgresAudit } from './postgres-audit.ts';
import { LISTENER_NAME, postgresChanges } from './postgres-changes.ts';
import { postgresLogins } from './postgres-logins.ts';
import { migratePostgres } from './postgres-migrations.ts';
import { inTransaction, pgTypes, queryable, type Row } from './postgres-pool.ts';
import { postgresLocks, postgresSessions } from './postgres-sessions.ts';
import { postgresAuthorities, postgresRecordings, postgresReplicas } from './postgres-shared.ts';
import { postgresWebSessions } from './postgres-web-sessions.ts';
import { deviceFromRow } from './record-columns.ts';
import type { JoinTokenRecord, Storage } from './storage.ts';

export interface PostgresStorageOptions {
  /** postgres://user@host:port/database, without a password. */
  url: string;
  password?: string | undefined;
  /** PEM CA bundle the server's certificate must chain to (TLS, host name checked). */
  caPem?: string | undefined;
  /** Connections in the pool (the LISTEN connection comes on top). */
  poolSize?: number | undefined;
  /** Told of a dropped connection and such; never a password. */
  onError?: (message: string, error: unknown) => void;
}

export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const onError = options.onError ?? (() => {});
  const config: pg.ClientConfig = {
    connectionString: options.url,
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.caPem !== undefined ? { ssl: { ca: options.caPem, rejectUnauthorized: true } } : {}),
    types: pgTypes,
  };
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 10, application_name: 'ztshd' });
  // An idle pooled connection that breaks is dropped by the pool; unheard, the error would end the process.
  pool.on('error', (error) => onError('an idle PostgreSQL connection failed', error));
  let changes: ReturnType<typeof postgresChanges> | undefined;
  try {
    await migratePostgres(pool);
    // Listening starts once the schema is there: a replica that cannot migrate does not linger.
    changes = postgresChanges({ pool, connect: () => new pg.Client({ ...config, application_name: LISTENER_NAME }), onError });
    await changes.ready;
  } catch (error) {
    await changes?.close();
    await pool.end();
    throw error;
  }
  const feed = changes;
  const db = queryable(pool);

  return {
    logins: postgresLogins(pool),
    mfa: {
      list: async (user) => (await db.query('SELECT * FROM mfa_devices WHERE user_name = $1 ORDER BY created_at', [user])).rows.map((row) => deviceFromRow(row, 'user_name')),
      add: async (d) => {
        await db.query(
          `INSERT INTO mfa_devices (id, user_name, kind, name, secret, last_time_step, credential_id, public_key, counter, transports, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
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
          ],
        );
      },
      credentialRegistered: async (credentialId) => (await db.query('SELECT 1 FROM mfa_devices WHERE credential_id = $1', [credentialId])).rows.length > 0,
      // One statement: of two replicas checking the same step, one wins.
      advanceTotpStep: async (id, step) =>
        (await db.query('UPDATE mfa_devices SET last_time_step = $1 WHERE id = $2 AND last_time_step < $1', [step, id])).rowCount === 1,
      setWebauthnCounter: async (id, counter) => {
        await db.query('UPDATE mfa_devices SET counter = $1 WHERE id = $2', [counter, id]);
      },
      failures: async (user) => {
        const row = (await db.query('SELECT failures, locked_until FROM mfa_failures WHERE user_name = $1', [user])).rows[0];
        return { failures: (row?.failures as number | undefined) ?? 0, lockedUntil: (row?.locked_until as number | undefined) ?? 0 };
      },
      setFailures: async (user, v) => {
        await db.query(
          `INSERT INTO mfa_failures (user_name, failures, locked_until) VALUES ($1, $2, $3)
           ON CONFLICT (user_name) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until`,
          [user, v.failures, v.lockedUntil],
        );
      },
      // The upsert takes the row's lock and returns its latest committed value: a wrong code sent
      // to another replica at the same moment waits for this transaction, then counts on top of it.
      recordFailure: (user, next) =>
        inTransaction(pool, async (tx) => {
          const row = (
            await tx.query(
              `INSERT INTO mfa_failures (user_name, failures, locked_until) VALUES ($1, 0, 0)
               ON CONFLICT (user_name) DO UPDATE SET failures = mfa_failures.failures
               RETURNING failures, locked_until`,
              [user],
            )
          ).rows[0]!;
          const value = next({ failures: row.failures as number, lockedUntil: row.locked_until as number });
          await tx.query('UPDATE mfa_failures SET failures = $2, locked_until = $3 WHERE user_name = $1', [user, value.failures, value.lockedUntil]);
          return value;
        }),
    },
    users: {
      upsertLogin: async (user, at, traits) => {
        await db.query(
          `INSERT INTO users (name, created_at, last_login_at, traits) VALUES ($1, $2, $2, $3)
           ON CONFLICT (name) DO UPDATE SET last_login_at = excluded.last_login_at, traits = excluded.traits`,
          [user, at, JSON.stringify(traits)],
        );
      },
    },
    joinTokens: {
      insert: async (t) => {
        await db.query('INSERT INTO join_tokens (id, hash, type, cluster, uses_left, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          t.id,
          t.hash,
          t.type,
          t.cluster,
          t.usesLeft,
          t.createdAt,
          t.expiresAt,
        ]);
      },
      list: async () => (await db.query('SELECT * FROM join_tokens ORDER BY created_at')).rows.map(tokenFromRow),
      remove: async (id) => (await db.query('DELETE FROM join_tokens WHERE id = $1', [id])).rowCount === 1,
      redeem: (hash, type, cluster, now) =>
        inTransaction(pool, async (tx) => {
          // The row stays locked until commit: two replicas cannot both spend the last use.
          const row = (await tx.query('SELECT * FROM join_tokens WHERE hash = $1 FOR UPDATE', [hash])).rows[0];
          if (!row) return 'unknown' as const;
          const token = tokenFromRow(row);
          if (token.type !== type) return 'wrong_type' as const;
          if (token.expiresAt <= now) return 'expired' as const;
          if (token.cluster !== cluster) return 'wrong_cluster' as const;
          if (token.usesLeft !== null) {
            if (token.usesLeft <= 0) return 'used' as const;
            await tx.query('UPDATE join_tokens SET uses_left = uses_left - 1 WHERE id = $1', [token.id]);
          }
          return token;
        }),
    },
    audit: postgresAudit(pool),
    sessions: postgresSessions(pool),
    locks: postgresLocks(pool),
    webSessions: postgresWebSessions(pool),
    accessRequests: postgresAccessRequests(pool),
    recordings: postgresRecordings(pool),
    authorities: postgresAuthorities(pool),
    replicas: postgresReplicas(pool),
    changes: { publish: feed.publish, subscribe: feed.subscribe },
    close: async () => {
      await feed.close();
      // Waits for the statements in flight, then closes every connection.
      await pool.end();
    },
  };
}

function tokenFromRow(row: Row): JoinTokenRecord {
  return {
    id: row.id as string,
    hash: row.hash as string,
    type: row.type as JoinTokenRecord['type'],
    cluster: row.cluster as string,
    usesLeft: row.uses_left as number | null,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
}
