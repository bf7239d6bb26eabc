// Appends audit events to the hash-chained log in storage. Callers pass
// only what is safe to keep: no secrets, codes or tokens.
//
// Security events (logins, MFA, issuance, denials, locks) are stored before
// emit()'s promise settles, so the caller answers only after they are kept.
// Routine events (allowed kube requests) are queued and written together
// every 100 ms: one transaction and one fsync for many requests. A durable
// emit writes the queue first, and writes run one after another in the order
// they were asked for, so the chain keeps the order events happened in;
// flush() at shutdown writes what is left.
import { auditCode, type AuditEvent, type AuditEventType, type AuditInput } from '@ztsh/protocol';

export type { AuditInput };
import type { Clock } from '../clock.ts';
import type { NewAuditEvent, Storage } from '../storage/storage.ts';

export interface AuditLog {
  /** Written before the promise settles. */
  emit(type: AuditEventType, success: boolean, input: AuditInput): Promise<AuditEvent>;
  /** Queued; written within 100 ms, or by flush(). */
  queue(type: AuditEventType, success: boolean, input: AuditInput): void;
  /** Writes what is queued; settles once every write asked for so far is done. */
  flush(): Promise<void>;
  /** Events queued or being written, not stored yet. */
  readonly pending: number;
  /** Notified after events are written (a live export follows these). */
  onWritten(listener: (events: AuditEvent[]) => void): () => void;
}

export const AUDIT_FLUSH_MS = 100;
const MAX_QUEUE = 2000;
/** After a failed write, the next try. */
const RETRY_MS = 1000;

/** `metrics`: told of each failed write (metrics.ts). */
export function createAuditLog(storage: Storage, clock: Clock, metrics?: { auditWriteError(): void }): AuditLog {
  let pending: NewAuditEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** The last write asked for: each write starts after it, so two batches never interleave in the chain. */
  let tail: Promise<unknown> = Promise.resolve();
  let writing = 0;
  const durable = new WeakSet<NewAuditEvent>();
  const listeners = new Set<(events: AuditEvent[]) => void>();
  const build = (type: AuditEventType, success: boolean, input: AuditInput): NewAuditEvent => ({
    time: clock.now().toISOString(),
    type,
    code: auditCode(type, success),
    success,
    ...(input.user ? { user: input.user } : {}),
    ...(input.loginId ? { loginId: input.loginId } : {}),
    ...(input.clientIp ? { clientIp: input.clientIp } : {}),
    ...(input.message ? { message: input.message } : {}),
    fields: input.fields ?? {},
  });
  const written = (events: AuditEvent[]) => {
    for (const listener of listeners) {
      try {
        listener(events);
      } catch {
        // a listener's failure is its own
      }
    }
  };
  /**
   * Takes the queue now and writes it in one transaction after every write
   * asked for before; resolves to what was written.
   */
  const writeQueue = (): Promise<AuditEvent[]> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return tail.then(() => []);
    const batch = pending;
    pending = [];
    writing += batch.length;
    const write = tail.then(() => storage.audit.appendMany(batch)).then(
      (events) => {
        writing -= batch.length;
        written(events);
        return events;
      },
      (error: unknown) => {
        writing -= batch.length;
        metrics?.auditWriteError();
        // Queued events are kept, ahead of what came since, and tried again:
        // a store away for a moment (a database failover) loses none of
        // them. A durable event is not: its caller was told it failed and
        // did not go on, so storing it later would record what did not happen.
        pending = [...batch.filter((e) => !durable.has(e)), ...pending];
        retryLater();
        throw error;
      },
    );
    // A failed write fails its own callers; the next write still runs.
    tail = write.catch(() => {});
    return write;
  };
  const retryLater = () => {
    if (timer) return;
    timer = setTimeout(() => void writeQueue().catch(() => {}), RETRY_MS);
    timer.unref();
  };
  return {
    async emit(type, success, input) {
      // Behind whatever is queued, so the chain keeps the order events happened in.
      const event = build(type, success, input);
      durable.add(event);
      pending.push(event);
      const events = await writeQueue();
      return events[events.length - 1]!;
    },
    queue(type, success, input) {
      pending.push(build(type, success, input));
      // A background write that fails is counted and kept for the retry above.
      if (pending.length >= MAX_QUEUE) void writeQueue().catch(() => {});
      else if (!timer) {
        timer = setTimeout(() => void writeQueue().catch(() => {}), AUDIT_FLUSH_MS);
        timer.unref();
      }
    },
    flush: async () => void (await writeQueue()),
    get pending() {
      return pending.length + writing;
    },
    onWritten(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
