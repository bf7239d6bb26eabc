// Appends audit events to the hash-chained log in storage. Callers pass
// only what is safe to keep: no secrets, codes or tokens.
//
// Security events (logins, MFA, issuance, denials, locks) are on disk before
// emit() returns, so the caller answers only after they are kept. Routine
// events (allowed kube requests) are queued and written together every
// 100 ms: one transaction and one fsync for many requests. A durable emit
// writes the queue first, so the chain keeps the order events happened in;
// flush() at shutdown writes what is left.
import { auditCode, type AuditEvent, type AuditEventType, type AuditInput } from '@ztsh/protocol';

export type { AuditInput };
import type { Clock } from '../clock.ts';
import type { NewAuditEvent, Storage } from '../storage/storage.ts';

export interface AuditLog {
  /** Written before this returns. */
  emit(type: AuditEventType, success: boolean, input: AuditInput): AuditEvent;
  /** Queued; written within 100 ms, or by flush(). */
  queue(type: AuditEventType, success: boolean, input: AuditInput): void;
  flush(): void;
  /** Events queued and not written yet. */
  readonly pending: number;
  /** Notified after events are written (a live export follows these). */
  onWritten(listener: (events: AuditEvent[]) => void): () => void;
}

export const AUDIT_FLUSH_MS = 100;
const MAX_QUEUE = 2000;

/** `metrics`: told of each failed write (metrics.ts). */
export function createAuditLog(storage: Storage, clock: Clock, metrics?: { auditWriteError(): void }): AuditLog {
  let pending: NewAuditEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
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
  /** Writes the queue in one transaction; returns what was written. */
  const writeQueue = (): AuditEvent[] => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return [];
    const batch = pending;
    pending = [];
    let events: AuditEvent[];
    try {
      events = storage.audit.appendMany(batch);
    } catch (error) {
      metrics?.auditWriteError();
      throw error;
    }
    written(events);
    return events;
  };
  return {
    emit(type, success, input) {
      // Behind whatever is queued, so the chain keeps the order events happened in.
      pending.push(build(type, success, input));
      const events = writeQueue();
      return events[events.length - 1]!;
    },
    queue(type, success, input) {
      pending.push(build(type, success, input));
      if (pending.length >= MAX_QUEUE) writeQueue();
      else if (!timer) {
        timer = setTimeout(writeQueue, AUDIT_FLUSH_MS);
        timer.unref();
      }
    },
    flush: () => void writeQueue(),
    get pending() {
      return pending.length;
    },
    onWritten(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
