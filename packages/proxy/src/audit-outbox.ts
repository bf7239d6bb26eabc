// Audit events of a proxy run apart from auth, on their way there. Routine
// events are sent in batches every flushMs; a durable (security) event is
// sent at once, and its caller learns whether auth stored it. Events that
// cannot be sent stay queued, in order, and are sent again with a growing
// pause; beyond `cap` the oldest are dropped, with an error in the log.
// pending() says how many wait (the audit queue depth gauge).
import type { Logger } from 'pino';
import type { AuditBatch } from '@ztsh/protocol';

export type OutboxEvent = AuditBatch['events'][number];

export interface AuditOutboxOptions {
  /** Stores the events at auth; rejects when they were not stored. */
  send(events: OutboxEvent[]): Promise<void>;
  log: Logger;
  flushMs?: number;
  /** Events in one send. */
  batch?: number;
  /** Events kept while auth cannot be reached. */
  cap?: number;
}

export interface AuditOutbox {
  /** Queues an event; a durable one returns a promise that settles once auth has answered for it. */
  add(event: OutboxEvent): Promise<void> | undefined;
  /** Events not stored at auth yet. */
  pending(): number;
  /** Sends what is queued now (waits for a send under way first). */
  flush(): Promise<void>;
  /** Stops the timers, sends what is left once, and says how many could not be sent. */
  close(): Promise<number>;
}

interface Queued {
  event: OutboxEvent;
  settle?: { resolve: () => void; reject: (error: unknown) => void };
}

export function createAuditOutbox(options: AuditOutboxOptions): AuditOutbox {
  const { log } = options;
  const flushMs = options.flushMs ?? 100;
  const batchSize = options.batch ?? 5_000;
  const cap = options.cap ?? 200_000;
  let queue: Queued[] = [];
  let flushing = false;
  let flushAgain = false;
  let timer: NodeJS.Timeout | undefined;
  let backoff = 0;
  let closed = false;
  let inFlight: Promise<void> = Promise.resolve();

  function schedule(ms: number): void {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, ms);
  }

  function flush(): Promise<void> {
    if (flushing) {
      flushAgain = true;
      return inFlight;
    }
    inFlight = sendQueued();
    return inFlight;
  }

  async function sendQueued(): Promise<void> {
    if (queue.length === 0) return;
    flushing = true;
    const batch = queue.slice(0, batchSize);
    queue = queue.slice(batch.length);
    try {
      await options.send(batch.map((q) => q.event));
      backoff = 0;
      for (const q of batch) q.settle?.resolve();
    } catch (error) {
      // Kept, in order, for the next try; whoever waits learns it is not stored yet.
      for (const q of batch) {
        q.settle?.reject(error);
        delete q.settle;
      }
      queue = batch.concat(queue);
      if (queue.length > cap) {
        const dropped = queue.length - cap;
        queue = queue.slice(dropped);
        log.error({ dropped }, 'audit events dropped: the auth service has been out of reach too long');
      }
      backoff = Math.min(Math.max(backoff * 2, 500), 10_000);
      log.warn({ err: error, queued: queue.length }, 'audit events not sent yet; trying again');
    } finally {
      flushing = false;
    }
    if (closed) return;
    if (flushAgain || (queue.length > 0 && backoff === 0)) {
      flushAgain = false;
      void flush();
    } else if (queue.length > 0) schedule(backoff);
  }

  return {
    add(event) {
      if (!event.durable) {
        queue.push({ event });
        if (queue.length >= batchSize) void flush();
        else schedule(backoff || flushMs);
        return undefined;
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, settle: { resolve, reject } });
        void flush();
      });
    },
    pending: () => queue.length,
    flush,
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      // What is queued goes out before the connections close: wait for a
      // send under way, then send the rest once.
      await inFlight.catch(() => undefined);
      if (queue.length > 0) await flush().catch(() => undefined);
      return queue.length;
    },
  };
}
