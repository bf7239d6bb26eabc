// What several replicas share only through PostgreSQL: the CA pairs (first
// writer wins, so replicas starting together sign with one CA), the
// replicas' heartbeats, and session recordings written in chunks.
import type pg from 'pg';
import { queryable, type Row } from './postgres-pool.ts';
import type { AuthorityStore, RecordingStore, ReplicaRecord, Storage, StoredAuthority } from './storage.ts';

export function postgresAuthorities(pool: pg.Pool): AuthorityStore {
  const db = queryable(pool);
  const load = async (kind: 'user' | 'host'): Promise<StoredAuthority | undefined> => {
    const row = (await db.query('SELECT cert_pem, key_pem FROM authorities WHERE kind = $1', [kind])).rows[0];
    return row ? { certPem: row.cert_pem as string, keyPem: row.key_pem as string } : undefined;
  };
  return {
    load,
    createIfAbsent: async (kind, pair) => {
      await db.query('INSERT INTO authorities (kind, cert_pem, key_pem) VALUES ($1, $2, $3) ON CONFLICT (kind) DO NOTHING', [kind, pair.certPem, pair.keyPem]);
      const kept = await load(kind);
      if (!kept) throw new Error(`the ${kind} CA row vanished right after it was written`);
      return kept;
    },
  };
}

function replicaFromRow(row: Row): ReplicaRecord {
  return {
    id: row.id as string,
    addr: (row.addr as string | null) ?? null,
    startedAt: row.started_at as number,
    heartbeatAt: row.heartbeat_at as number,
  };
}

export function postgresReplicas(pool: pg.Pool): Storage['replicas'] {
  const db = queryable(pool);
  return {
    heartbeat: async (r) => {
      await db.query(
        `INSERT INTO replicas (id, addr, started_at, heartbeat_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
        [r.id, r.addr, r.startedAt, r.heartbeatAt],
      );
    },
    live: async (since) =>
      (await db.query('SELECT * FROM replicas WHERE heartbeat_at >= $1 ORDER BY started_at, id', [since])).rows.map(replicaFromRow),
    remove: async (id) => {
      await db.query('DELETE FROM replicas WHERE id = $1', [id]);
    },
  };
}

export function postgresRecordings(pool: pg.Pool): RecordingStore {
  const db = queryable(pool);
  return {
    append: async (sessionId, seq, data) => {
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > 2 ** 31 - 1) throw new RangeError(`recording chunk seq must be 0 to 2^31-1, got ${seq}`);
      // A retried write of the same chunk is kept once.
      await db.query('INSERT INTO recording_chunks (session_id, seq, data) VALUES ($1, $2, $3) ON CONFLICT (session_id, seq) DO NOTHING', [
        sessionId,
        seq,
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      ]);
    },
    read: async (sessionId) => {
      const { rows } = await db.query('SELECT data FROM recording_chunks WHERE session_id = $1 ORDER BY seq', [sessionId]);
      if (rows.length === 0) return undefined;
      return new Uint8Array(Buffer.concat(rows.map((r) => r.data as Buffer)));
    },
    size: async (sessionId) =>
      (await db.query('SELECT coalesce(sum(octet_length(data)), 0)::bigint AS size FROM recording_chunks WHERE session_id = $1', [sessionId])).rows[0]!.size as number,
  };
}
