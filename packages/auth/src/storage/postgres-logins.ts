// Logins in flight, in PostgreSQL: a login started on one replica is finished
// on another, and a status moves only from the one it was in (a replayed
// callback on a second replica finds it moved already).
import type pg from 'pg';
import { queryable } from './postgres-pool.ts';
import { LOGIN_COLUMNS as SHARED_LOGIN_COLUMNS, loginColumnValue, loginFromRow } from './record-columns.ts';
import type { LoginRecord, Storage } from './storage.ts';

/** The shared columns, with PostgreSQL's name for the user column. */
const LOGIN_COLUMNS: Record<keyof LoginRecord, string> = { ...SHARED_LOGIN_COLUMNS, user: 'user_name' };
const FIELDS = Object.keys(LOGIN_COLUMNS) as (keyof LoginRecord)[];


export function postgresLogins(pool: pg.Pool): Storage['logins'] {
  const db = queryable(pool);
  const by = (column: string) => async (value: string) => loginFromRow((await db.query(`SELECT * FROM logins WHERE ${column} = $1`, [value])).rows[0], LOGIN_COLUMNS);
  const update = async (id: string, patch: Partial<LoginRecord>, whereStatus?: string): Promise<boolean> => {
    const fields = (Object.keys(patch) as (keyof LoginRecord)[]).filter((f) => f in LOGIN_COLUMNS);
    if (fields.length === 0) return true;
    const params: unknown[] = [id, ...fields.map((f) => loginColumnValue(f, patch[f]))];
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
        FIELDS.map((f) => loginColumnValue(f, login[f])),
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
