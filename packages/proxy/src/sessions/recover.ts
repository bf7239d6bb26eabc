// Sessions the proxy was relaying when it died (kill -9, power loss) are
// still open in the database. At start they are closed as "interrupted",
// with what their recording holds: the recording was written at least every
// half second, so it ends at most that long before the crash.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuthClient, parseAsciicast, plainText } from '@ztsh/protocol';

export async function recoverSessions(auth: AuthClient, log: Logger): Promise<void> {
  for (const session of await auth.sessions.unfinished()) {
    let endedAt = session.startedAt;
    let recordingSize: number | null = null;
    let input = '';
    let output = '';
    if (session.recordingPath) {
      const path = join(auth.recordingsDir, session.recordingPath);
      try {
        recordingSize = statSync(path).size;
        const cast = parseAsciicast(readFileSync(path, 'utf8'));
        const last = cast.events[cast.events.length - 1];
        if (last) endedAt = session.startedAt + Math.round(last[0] * 1000);
        for (const [, code, data] of cast.events) {
          if (code === 'i') input += data;
          else if (code === 'o') output += data;
        }
      } catch (error) {
        log.warn({ err: error, sessionId: session.id, path }, 'the recording of an interrupted session cannot be read');
      }
    }
    await auth.sessions.update(session.id, { endedAt, endReason: 'interrupted', recordingSize });
    if (session.recordingPath) await auth.sessions.index(session.id, session.command.join(' '), `${plainText(input)}\n${plainText(output)}`);
    await auth.audit(session.kind === 'portforward' ? 'port_forward.end' : 'session.end', false, {
      user: session.user,
      message: `${session.kind} ${session.namespace}/${session.pod} was interrupted: the proxy stopped while it ran`,
      fields: { sessionId: session.id, kind: session.kind, cluster: session.cluster, namespace: session.namespace, pod: session.pod, endReason: 'interrupted', recordingSize },
    }, true);
    log.warn({ sessionId: session.id, user: session.user }, 'closed a session left open by an earlier stop');
  }
}
