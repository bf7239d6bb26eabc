// Requests and sessions in flight, by whose they are, so a lock can end
// them: watches, `logs -f`, exec, attach, cp and port-forward may run for
// hours on an access check made once at their start. Each also ends when
// the certificate it was allowed on expires, as a lock would end it.
import type { AuthClient, ClusterInfo, Identity } from '@ztsh/protocol';
import { sessionMfaOutcome } from './session-mfa-check.ts';

export interface LiveStream {
  user: string;
  roles: readonly string[];
  /** The access requests the certificate carries (identity.accessRequests ids): a lock on one ends the stream. */
  accessRequests?: readonly string[];
  /** The client certificate's notAfter: the stream ends then. */
  notAfter: Date;
  /**
   * A stream let through on a session MFA check: the sweep asks again with
   * the roles as defined now, so a shortened mfa_verification_interval (or a
   * role that newly requires the check) ends it as it would refuse a new request.
   */
  sessionMfa?: { identity: Identity; cluster: ClusterInfo };
  /** Ends the stream, telling the client why as well as its protocol allows. */
  end(message: string, reason: EndReason): void;
}

export type EndReason = 'locked' | 'expired' | 'proxy shutdown';

/**
 * How often the streams' notAfter is also compared with the clock. A timer
 * counts monotonic time and the notAfter is wall time: a clock that jumps
 * (a stepped system clock, a paused VM, a test's ManualClock) would keep a
 * stream past it until the timer fires.
 */
export const EXPIRY_SWEEP_MS = 1000;

export class LiveStreams {
  private readonly streams = new Set<LiveStream>();
  private readonly unsubscribe: () => void;
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly auth: AuthClient,
    private readonly now: () => Date = () => new Date(),
    private readonly metrics?: { lockTermination(): void },
  ) {
    this.unsubscribe = auth.onLocksChanged(() => this.enforce());
  }

  add(stream: LiveStream): () => void {
    this.streams.add(stream);
    // A lock made between the stream's access check and now found nothing to end: look again.
    queueMicrotask(() => {
      const lock = this.auth.lockFor(stream.user, stream.roles, stream.accessRequests);
      if (!lock || !this.streams.delete(stream)) return;
      this.metrics?.lockTermination();
      try {
        stream.end(lock.message, 'locked');
      } catch {
        // already gone
      }
    });
    const expiry = setTimeout(() => this.expire(stream), Math.max(0, stream.notAfter.getTime() - this.now().getTime()));
    expiry.unref();
    this.sweep ??= setInterval(() => this.endExpired(), EXPIRY_SWEEP_MS).unref();
    return () => {
      clearTimeout(expiry);
      this.streams.delete(stream);
      this.stopSweepWhenIdle();
    };
  }

  private expire(stream: LiveStream): void {
    this.endAsExpired(stream, `your ztsh certificate expired at ${stream.notAfter.toISOString()}: run ztsh login, then run the command again`);
  }

  /** Ends a stream whose time is up (its certificate, or its session MFA check), once. */
  private endAsExpired(stream: LiveStream, message: string): void {
    if (!this.streams.delete(stream)) return;
    this.stopSweepWhenIdle();
    try {
      stream.end(message, 'expired');
    } catch {
      // already gone
    }
  }

  /** Ends every stream whose certificate the clock says has expired, or whose session MFA check the current roles no longer accept. */
  endExpired(): void {
    const now = this.now();
    for (const stream of this.streams) {
      if (stream.notAfter.getTime() <= now.getTime()) {
        this.expire(stream);
        continue;
      }
      if (!stream.sessionMfa) continue;
      const outcome = sessionMfaOutcome(this.auth, stream.sessionMfa.identity, stream.sessionMfa.cluster, now);
      if (!outcome.ok) this.endAsExpired(stream, outcome.message);
    }
  }

  private stopSweepWhenIdle(): void {
    if (this.streams.size > 0 || !this.sweep) return;
    clearInterval(this.sweep);
    this.sweep = undefined;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Ends every stream whose identity a lock now shuts out. */
  enforce(): void {
    for (const stream of this.streams) {
      const lock = this.auth.lockFor(stream.user, stream.roles, stream.accessRequests);
      if (!lock) continue;
      this.streams.delete(stream);
      this.metrics?.lockTermination();
      try {
        stream.end(lock.message, 'locked');
      } catch {
        // already gone
      }
    }
  }

  /** Ends every stream (the proxy is stopping), telling each client why. */
  endAll(message: string): void {
    for (const stream of this.streams) {
      try {
        stream.end(message, 'proxy shutdown');
      } catch {
        // already gone
      }
    }
    this.streams.clear();
    this.stopSweepWhenIdle();
  }

  close(): void {
    this.unsubscribe();
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
