// Sessions whose replica is gone. With several replicas on one store, a
// replica killed mid-session (kill -9, a lost node) cannot close its
// sessions, and would leave them "live" forever. Every few seconds one
// replica looks at the heartbeat table:
//
//   a replica silent for LOST_AFTER_MS ──▶ its unfinished sessions end as "replica lost",
//                                          then its row is removed
//   a replica that started again under  ──▶ its sessions from before that start
//   the same id (a StatefulSet pod)         end as "interrupted"
//
// Each is closed with what the store holds of its recording (at most the
// last second is missing: store-sink.ts in @ztsh/proxy), its text indexed
// and its end audited, as the proxy does for its own at start (recover.ts).
// Among live replicas the one with the lowest id does it, so a session is
// closed once; each close checks again that the session is still open.
import type { Logger } from 'pino';
import { castSummary, type SessionRecord } from '@ztsh/protocol';
import type { AuditLog } from './audit/audit-log.ts';
import type { Clock } from './clock.ts';
import { recordingText } from './recordings.ts';
import type { ReplicaRecord, Storage } from './storage/storage.ts';

/** A replica whose last heartbeat is older than this is taken for lost. */
export const LOST_AFTER_MS = 15_000;
/** How often the heartbeat table is looked at. */
export const CHECK_EVERY_MS = 5_000;

export type LostEndReason = 'replica lost' | 'interrupted';

export interface LostSessionsOptions {
  storage: Storage;
  audit: Pick<AuditLog, 'emit'>;
  clock: Clock;
  log: Logger;
  recordingsDir: string;
  /** This process's replica id; undefined or null: auth runs alone and always looks. */
  self?: (() => string | null | undefined) | undefined;
  lostAfterMs?: number;
}

/** One look at the heartbeat table; resolves to how many sessions were closed. */
export async function closeLostSessions(options: LostSessionsOptions): Promise<number> {
  const { storage, clock } = options;
  const now = clock.now().getTime();
  const lostBefore = now - (options.lostAfterMs ?? LOST_AFTER_MS);
  const replicas = await storage.replicas.live(0);
  const live = replicas.filter((r) => r.heartbeatAt >= lostBefore).map((r) => r.id).sort();
  const self = options.self?.();
  if (self && live.length > 0 && live[0] !== self) return 0;
  let closed = 0;
  for (const replica of replicas) {
    const lost = replica.heartbeatAt < lostBefore;
    for (const session of await storage.sessions.unfinished(replica.id)) {
      if (!lost && session.startedAt >= replica.startedAt) continue;
      if (await closeSession(options, session, replica, lost ? 'replica lost' : 'interrupted')) closed += 1;
    }
    if (lost) await storage.replicas.remove(replica.id);
  }
  return closed;
}

async function closeSession(options: LostSessionsOptions, session: SessionRecord, replica: ReplicaRecord, endReason: LostEndReason): Promise<boolean> {
  const { storage, log } = options;
  let endedAt = session.startedAt;
  let recordingSize: number | null = null;
  let text = '';
  if (session.recordingPath) {
    try {
      const recording = await recordingText(storage, options.recordingsDir, session);
      if (recording) {
        recordingSize = recording.size;
        const cast = castSummary(recording.text);
        if (cast.lastEventMs !== null) endedAt = session.startedAt + cast.lastEventMs;
        text = `${cast.input}\n${cast.output}`;
      }
    } catch (error) {
      log.warn({ err: error, sessionId: session.id }, 'the recording of a lost session cannot be read');
    }
  }
  // Closed meanwhile (the replica came back, or another looked at the same time): its own end stands.
  const current = await storage.sessions.get(session.id);
  if (!current || current.endedAt !== null) return false;
  await storage.sessions.update(session.id, { endedAt, endReason, recordingSize });
  if (session.recordingPath) await storage.sessions.index(session.id, session.command.join(' '), text);
  const why = endReason === 'replica lost' ? `its replica ${replica.id} stopped answering` : `its replica ${replica.id} restarted while it ran`;
  await options.audit.emit(session.kind === 'portforward' ? 'port_forward.end' : 'session.end', false, {
    user: session.user,
    message: `${session.kind} ${session.namespace}/${session.pod} was interrupted: ${why}`,
    fields: { sessionId: session.id, kind: session.kind, cluster: session.cluster, namespace: session.namespace, pod: session.pod, endReason, recordingSize, replica: replica.id },
  });
  log.warn({ sessionId: session.id, user: session.user, replica: replica.id, endReason }, 'closed a session its replica left open');
  return true;
}

/** Looks every CHECK_EVERY_MS until stopped; a failed look is logged and tried at the next. */
export function watchLostSessions(options: LostSessionsOptions & { everyMs?: number }): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    closeLostSessions(options)
      .catch((error: unknown) => options.log.error({ err: error }, 'closing the sessions of lost replicas failed'))
      .finally(() => (running = false));
  }, options.everyMs ?? CHECK_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
