// Proxy replicas in SQLite: one row each, upserted on every heartbeat.
import type { Database } from 'better-sqlite3';
import type { ReplicaRecord, Storage } from './storage.ts';

type Row = Record<string, unknown>;

function fromRow(row: Row): ReplicaRecord {
  return {
    id: row.id as string,
    addr: (row.addr as string | null) ?? null,
    startedAt: row.started_at as number,
    heartbeatAt: row.heartbeat_at as number,
  };
}

export function sqliteReplicas(db: Database): Storage['replicas'] {
  const upsert = db.prepare(
    `INSERT INTO replicas (id, addr, started_at, heartbeat_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET addr = excluded.addr, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
  );
  const live = db.prepare('SELECT * FROM replicas WHERE heartbeat_at >= ? ORDER BY started_at, id');
  const remove = db.prepare('DELETE FROM replicas WHERE id = ?');
  return {
    heartbeat: async (r) => void upsert.run(r.id, r.addr, r.startedAt, r.heartbeatAt),
    live: async (since) => (live.all(since) as Row[]).map(fromRow),
    remove: async (id) => void remove.run(id),
  };
}
