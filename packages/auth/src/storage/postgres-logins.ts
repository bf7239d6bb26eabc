// Logins in flight, in PostgreSQL: a login started on one replica is finished
// on another, and a status moves only from the one it was in (a replayed
// callback on a second replica finds it moved already).
import type pg from 'pg';
import { queryable, type Row } from './postgres-pool.ts';
import type { LoginRecord, Storage } from './storage.ts';

const LOGIN_COLUMNS: Record<keyof LoginRecord, string> = {
  id: 'id',
  kind: 'kind',
  connector: 'connector',
  publicKey: 'public_key',
  redirect: 'redirect',
  verifierHash: 'verifier_hash',
  ttlMs: 'ttl_ms',
  client: 'client',
  clientIp: 'client_ip',
  status: 'status',
  browserHash: 'browser_hash',
  oidcState: 'oidc_state',
  oidcNonce: 'oidc_nonce',
  pkceVerifier: 'pkce_verifier',
  user: 'user_name',
  grant: 'grant_json',
  mfaMethod: 'mfa_method',
  mfaPending: 'mfa_pending',
  codeHash: 'code_hash',
  codeExpiresAt: 'code_expires_at',
  userCode: 'user_code',
  deviceCodeHash: 'device_code_hash',
  lastPollAt: 'last_poll_at',
  error: 'error',
  createdAt: 'created_at',
  expiresAt: 'expires_at',
};
const FIELDS = Object.keys(LOGIN_COLUMNS) as (keyof LoginRecord)[];
const JSON_FIELDS = new Set<keyof LoginRecord>(['client', 'grant', 'mfaPending']);

function fromRow(row: Row | undefined): LoginRecord | undefined {
  if (!row) return undefined;
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = row[LOGIN_COLUMNS[field]];
    out[field] = JSON_FIELDS.has(field) && typeof value === 'string' ? JSON.parse(value) : value;
  }
  return out as unknown as LoginRecord;
}

function toColumn(field: keyof LoginRecord, value: unknown): unknown {
  if (JSON_FIELDS.has(field)) return value == null ? null : JSON.stringify(value);
  return value ?? null;
}

export function postgresLogins(pool: pg.Pool): Storage['logins'] {
  const db = queryable(pool);
  const by = (column: string) => async (value: string) => fromRow((await db.query(`SELECT * FROM logins WHERE ${column} = $1`, [value])).rows[0]);
  const update = async (id: string, patch: Partial<LoginRecord>, whereStatus?: string): Promise<boolean> => {
    const fields = (Object.keys(patch) as (keyof LoginRecord)[]).filter((f) => f in LOGIN_COLUMNS);
    if (fields.length === 0) return true;
    const params: unknown[] = [id, ...fields.map((f) => toColumn(f, patch[f]))];
    const sets = fields.map((f, i) => `${LOGIN_COLUMNS[f]} = $${i + 2}`).join(', ');
    let where = 'id = $1';
    if (whereStatus) {
      params.push(whereStatus);
      where += ` AND status = $${params.length}`;
    }
    // One statement: under concurrent callers PostgreSQL re-checks the status after taking the row.
    return (await db.query(`UPDATE logins SET ${sets} WHERE ${where}`, params)).rowCount === 1;
  };
  return {
    insert: async (login) => {
      await db.query(
        `INSERT INTO logins (${FIELDS.map((f) => LOGIN_COLUMNS[f]).join(', ')}) VALUES (${FIELDS.map((_, i) => `$${i + 1}`).join(', ')})`,
        FIELDS.map((f) => toColumn(f, login[f])),
      );
    },
    get: by('id'),
    findByState: by('oidc_state'),
    findByCodeHash: by('code_hash'),
    findByUserCode: by('user_code'),
    findByDeviceCodeHash: by('device_code_hash'),
    update: async (id, patch) => void (await update(id, patch)),
    transition: (id, from, patch) => update(id, patch, from),
    deleteExpired: async (before) => (await db.query('DELETE FROM logins WHERE expires_at < $1', [before])).rowCount,
  };
}
