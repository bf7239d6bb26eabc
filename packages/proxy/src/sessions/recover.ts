// Sessions the proxy was relaying when it died (kill -9, power loss) are
// still open in the database. At start they are closed as "interrupted",
// with what their recording holds: the recording was written at least every
// half second, so it ends at most that long before the crash.
//
// With recordings in auth's store (several replicas), auth closes them
// instead (lost-sessions.ts in @ztsh/auth): it reads the store, and it also
// closes those of a replica that never comes back.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuthClient, castSummary, castText } from '@ztsh/protocol';

export async function recoverSessions(auth: AuthClient, log: Logger): Promise<void> {
  if (auth.recordings) return;
  for (const session of await auth.sessions.unfinished()) {
    let endedAt = session.startedAt;
    let recordingSize: number | null = null;
    let input = '';
    let output = '';
    if (session.recordingPath) {
      const path = join(auth.recordingsDir, session.recordingPath);
      try {
        recordingSize = statSync(path).size;
        // A gzip recording cut by the crash has no trailer: it is read up to its last sync flush.
        const cast = castSummary(castText(readFileSync(path), session.recordingPath));
        if (cast.lastEventMs !== null) endedAt = session.startedAt + cast.lastEventMs;
        ({ input, output } = cast);
      } catch (error) {
        log.warn({ err: error, sessionId: session.id, path }, 'the recording of an interrupted session cannot be read');
      }
    }
    await auth.sessions.update(session.id, { endedAt, endReason: 'interrupted', recordingSize });
    if (session.recordingPath) await auth.sessions.index(session.id, session.command.join(' '), `${input}\n${output}`);
    await auth.audit(session.kind === 'portforward' ? 'port_forward.end' : 'session.end', false, {
      user: session.user,
      message: `${session.kind} ${session.namespace}/${session.pod} was interrupted: the proxy stopped while it ran`,
      fields: { sessionId: session.id, kind: session.kind, cluster: session.cluster, namespace: session.namespace, pod: session.pod, endReason: 'interrupted', recordingSize },
    }, true);
    log.warn({ sessionId: session.id, user: session.user }, 'closed a session left open by an earlier stop');
  }
}
