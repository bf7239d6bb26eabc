// Requests and sessions in flight, by whose they are, so a lock can end
// them: watches, `logs -f`, exec, attach, cp and port-forward may run for
// hours on an access check made once at their start. Each also ends when
// the certificate it was allowed on expires, as a lock would end it.
import type { AuthClient } from '@ztsh/protocol';

export interface LiveStream {
  user: string;
  roles: readonly string[];
  /** The client certificate's notAfter: the stream ends then. */
  notAfter: Date;
  /** Ends the stream, telling the client why as well as its protocol allows. */
  end(message: string, reason: EndReason): void;
}

export type EndReason = 'locked' | 'expired' | 'proxy shutdown';

export class LiveStreams {
  private readonly streams = new Set<LiveStream>();
  private readonly unsubscribe: () => void;

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
      const lock = this.auth.lockFor(stream.user, stream.roles);
      if (!lock || !this.streams.delete(stream)) return;
      this.metrics?.lockTermination();
      try {
        stream.end(lock.message, 'locked');
      } catch {
        // already gone
      }
    });
    const expiry = setTimeout(() => {
      if (!this.streams.delete(stream)) return;
      try {
        stream.end(`your ztsh certificate expired at ${stream.notAfter.toISOString()}: run ztsh login, then run the command again`, 'expired');
      } catch {
        // already gone
      }
    }, Math.max(0, stream.notAfter.getTime() - this.now().getTime()));
    expiry.unref();
    return () => {
      clearTimeout(expiry);
      this.streams.delete(stream);
    };
  }

  get size(): number {
    return this.streams.size;
  }

  /** Ends every stream whose identity a lock now shuts out. */
  enforce(): void {
    for (const stream of this.streams) {
      const lock = this.auth.lockFor(stream.user, stream.roles);
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
  }

  close(): void {
    this.unsubscribe();
  }
}
