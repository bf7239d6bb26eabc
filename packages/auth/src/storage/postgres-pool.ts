// The connection pool of the PostgreSQL engine and the few ways the engine's
// parts use it: one statement, or several in one transaction.
import pg from 'pg';

export type Row = Record<string, unknown>;

/** Runs SQL with parameters; what both the pool and a client in a transaction offer. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
}

/**
 * BIGINT (ms timestamps, seq, counts) as a JS number, not a string: every
 * value the engine keeps in one fits in 2^53.
 */
const INT8_OID = 20;
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * A string parameter as PostgreSQL text can hold it: text cannot contain NUL,
 * so a NUL (only ever in hostile input: a name, a search) becomes U+FFFD
 * instead of failing the statement. Records that must keep every byte (audit
 * events) are stored as JSON, which escapes it.
 */
function param(value: unknown): unknown {
  return typeof value === 'string' && value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

export function queryable(target: pg.Pool | pg.PoolClient): Queryable {
  return {
    query: async (sql, params = []) => {
      const result = await target.query(sql, params.map(param));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
  };
}

/** Runs `work` in one transaction on one pooled connection; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(queryable(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      // The connection itself failed: it goes, not back into the pool.
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
