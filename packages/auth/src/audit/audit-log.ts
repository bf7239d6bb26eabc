// Appends audit events to the hash-chained log in storage. Callers pass
// only what is safe to keep: no secrets, codes or tokens.
//
// Security events (logins, MFA, issuance, denials, locks) are stored before
// emit()'s promise settles, so the caller answers only after they are kept.
// Routine events (allowed kube requests) are queued and written by group
// commit: a queued event is written at once when no write is under way,
// else together with everything queued meanwhile, right after the write
// under way: one transaction for many requests under load, no wait when
// idle. queue() returns a promise that settles once the event is stored, so
// the proxy ends an answer only after its event is kept: `written`, so a
// crash of ztshd loses none, and on disk shortly after; a batch holding a
// security event is `synced`, on disk before anyone waits on. A durable emit
// writes the queue first, and writes run one after another in the order
// they were asked for, so the chain keeps the order events happened in;
// flush() at shutdown writes what is left.
import { auditCode, type AuditEvent, type AuditEventType, type AuditInput } from '@ztsh/protocol';

export type { AuditInput };
import type { Clock } from '../clock.ts';
import type { NewAuditEvent, Storage } from '../storage/storage.ts';

export interface AuditLog {
  /** Written before the promise settles. */
  emit(type: AuditEventType, success: boolean, input: AuditInput): Promise<AuditEvent>;
  /**
   * Queued and written at once, or right after the write under way. The
   * promise resolves once the event is stored; a write that fails is tried
   * again (the event stays queued), so it does not reject for that. Events
   * queued together share one promise: no promise is made per event.
   */
  queue(type: AuditEventType, success: boolean, input: AuditInput): Promise<void>;
  /** Writes what is queued; settles once every write asked for so far is done. */
  flush(): Promise<void>;
  /** Events queued or being written, not stored yet. */
  readonly pending: number;
  /** Notified after events are written (a live export follows these). */
  onWritten(listener: (events: AuditEvent[]) => void): () => void;
}

/** After a failed write, the next try. */
const RETRY_MS = 1000;

interface Stored {
  promise: Promise<void>;
  resolve: () => void;
}

function storedSignal(): Stored {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** `metrics`: told of each failed write (metrics.ts). */
export function createAuditLog(storage: Storage, clock: Clock, metrics?: { auditWriteError(): void }): AuditLog {
  let pending: NewAuditEvent[] = [];
  /** Resolves once every event now in `pending` is stored (made when queue() first asks for it). */
  let pendingStored: Stored | undefined;
  /** The retry after a failed write: while it waits, a queued event does not start a write of its own. */
  let timer: NodeJS.Timeout | undefined;
  /** A write of the queue is due in this turn of the event loop (setImmediate). */
  let due = false;
  /** The last write asked for: each write starts after it, so two batches never interleave in the chain. */
  let tail: Promise<unknown> = Promise.resolve();
  /** Writes asked for and not settled. */
  let inFlight = 0;
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
  /** Group commit: what was queued while a write was under way goes in one write right after it. */
  const writeNext = () => {
    if (inFlight === 0 && !timer && pending.length > 0) void writeQueue().catch(() => {});
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
    const stored = pendingStored;
    pending = [];
    pendingStored = undefined;
    writing += batch.length;
    inFlight += 1;
    // A batch with a security event is on disk before anyone is answered;
    // routine events only need to outlive a crash of this process.
    const durability = batch.some((e) => durable.has(e)) ? 'synced' : 'written';
    const write = tail.then(() => storage.audit.appendMany(batch, durability)).then(
      (events) => {
        writing -= batch.length;
        inFlight -= 1;
        stored?.resolve();
        written(events);
        writeNext();
        return events;
      },
      (error: unknown) => {
        writing -= batch.length;
        inFlight -= 1;
        metrics?.auditWriteError();
        // Queued events are kept, ahead of what came since, and tried again:
        // a store away for a moment (a database failover) loses none of
        // them, and whoever waits for them goes on waiting until they are
        // stored. A durable event is not: its caller was told it failed and
        // did not go on, so storing it later would record what did not happen.
        pending = [...batch.filter((e) => !durable.has(e)), ...pending];
        if (stored) {
          if (pendingStored) void pendingStored.promise.then(stored.resolve);
          else pendingStored = stored;
        }
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
      pendingStored ??= storedSignal();
      // Events queued in the same turn of the event loop go in one write;
      // while a write is under way (or a retry waits) they wait for it.
      if (!due && inFlight === 0 && !timer) {
        due = true;
        setImmediate(() => {
          due = false;
          writeNext();
        });
      }
      return pendingStored.promise;
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
