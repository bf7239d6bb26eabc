// Liveness of a direct tunnel (TUNNEL_PING_MS says why both ends need it):
// an HTTP/2 PING every `everyMs`; when the next one is due and the last has
// no answer, `onSilent` runs once and the pings stop.
import type { Http2Session } from 'node:http2';

export function pingWatch(session: Pick<Http2Session, 'ping' | 'destroyed'>, everyMs: number, onSilent: () => void): () => void {
  let answered = true;
  const timer = setInterval(() => {
    if (session.destroyed) return clearInterval(timer);
    if (!answered) {
      clearInterval(timer);
      return onSilent();
    }
    answered = false;
    try {
      // An error (the session closed meanwhile) counts as no answer; the session's own close ends the tunnel first.
      session.ping((err) => {
        if (!err) answered = true;
      });
    } catch {
      // Closed between the check and the ping: the session's close handler ends the tunnel.
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
