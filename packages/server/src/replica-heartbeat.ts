// Each ztshd on a shared store heartbeats its proxy replica's row every
// HEARTBEAT_MS and reads back the replicas heard from within LIVE_FOR_MS:
// that is the set its proxy tells agents of, so each agent holds a tunnel
// to every live replica. A replica that stops cleanly removes its row; one
// that dies drops out of the set LIVE_FOR_MS later. On SQLite (one machine)
// the set is this replica alone.
import type { Logger } from 'pino';
import type { AuthService } from '@ztsh/auth';
import type { UpdatableReplicaSet } from '@ztsh/proxy';

export const HEARTBEAT_MS = 2_000;
/** Five missed heartbeats: a replica busy for a moment (a GC pause, a slow store) is not dropped. */
export const LIVE_FOR_MS = 10_000;

export interface ReplicaHeartbeatOptions {
  store: AuthService['storage']['replicas'];
  replicas: UpdatableReplicaSet;
  now: () => number;
  log: Logger;
  everyMs?: number;
  liveForMs?: number;
}

export interface ReplicaHeartbeat {
  /** Stops beating and removes this replica's row, so agents drop it now rather than LIVE_FOR_MS later. */
  stop(): Promise<void>;
}

/** Beats once before it returns (the row is there before any agent is told of this replica), then every `everyMs`. */
export async function startReplicaHeartbeat(options: ReplicaHeartbeatOptions): Promise<ReplicaHeartbeat> {
  const { store, replicas, now, log } = options;
  const everyMs = options.everyMs ?? HEARTBEAT_MS;
  const liveForMs = options.liveForMs ?? LIVE_FOR_MS;
  const startedAt = now();
  let failing = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const beat = async () => {
    try {
      const at = now();
      await store.heartbeat({ id: replicas.self, addr: null, startedAt, heartbeatAt: at });
      const live = await store.live(at - liveForMs);
      replicas.update(live.map((r) => r.id));
      if (failing) log.info({ replicaId: replicas.self }, 'replica heartbeat works again');
      failing = false;
    } catch (err) {
      // The set stays as last read: agents keep their tunnels while the store is away.
      if (!failing) log.warn({ err, replicaId: replicas.self }, 'replica heartbeat failed; agents are told the last set read until it works again');
      failing = true;
    }
  };
  // One beat at a time, however slow the store: the next is timed from the end of this one.
  let running: Promise<void> = beat();
  await running;
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = beat().finally(next);
    }, everyMs);
    timer.unref();
  };
  next();
  log.info({ replicaId: replicas.self, replicas: replicas.current() }, 'replica heartbeat started');

  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
      await store.remove(replicas.self).catch((err: unknown) => log.warn({ err, replicaId: replicas.self }, 'the replica row was not removed; it ages out of the set'));
    },
  };
}
