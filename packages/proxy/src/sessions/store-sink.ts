// A recording appended in chunks into auth's store (several replicas on
// PostgreSQL), so any replica can replay it and a replica that dies loses at
// most the last second: the writer hands over its events every FLUSH_MS and
// each batch goes out at once.
//
// The relay never waits for the store: chunks queue here, one append is in
// flight at a time (so they land in order), and a failed append is sent
// again with the same seq, which the store keeps once. What the queue may
// hold is bounded: past MAX_QUEUED_BYTES, or after GIVE_UP_MS of failed
// appends, the recording fails and the session is ended, as a session whose
// recording cannot be opened is refused: none runs unrecorded.
import type { Logger } from 'pino';
import type { RecordingAppender } from '@ztsh/protocol';
import type { RecordingSink } from './recording-sink.ts';

/** One append carries at most this much (several batches of the writer together when the store was slow). */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** The store is this far behind: the session ends rather than hold more in memory. */
export const MAX_QUEUED_BYTES = 32 * 1024 * 1024;
/** Appends have failed for this long: the session ends. Covers a PostgreSQL failover of a few seconds. */
export const GIVE_UP_MS = 10_000;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

export interface StoreSinkOptions {
  sessionId: string;
  store: RecordingAppender;
  log: Logger;
  now?: () => number;
}

export function storeSink(options: StoreSinkOptions): RecordingSink {
  const { sessionId, store, log } = options;
  const now = options.now ?? Date.now;
  const queue: Buffer[] = [];
  let queued = 0;
  let seq = 0;
  let stored = 0;
  let open = false;
  let sending = false;
  let closed = false;
  let failure: Error | undefined;
  const failureListeners: ((error: Error) => void)[] = [];
  /** Waiters for "the queue is empty" or "it failed". */
  let waiters: (() => void)[] = [];
  const wake = () => {
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  };

  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    log.error({ err: error, sessionId, storedBytes: stored, lostBytes: queued }, 'the recording cannot be stored: the session is ended');
    queue.length = 0;
    queued = 0;
    for (const listener of failureListeners) listener(error);
    wake();
  };

  const pump = () => {
    if (!open || sending || failure || queue.length === 0) return;
    const parts: Buffer[] = [];
    let size = 0;
    // Whole batches only, so every stored prefix ends at an event's end.
    while (queue.length > 0 && (parts.length === 0 || size + queue[0]!.length <= MAX_CHUNK_BYTES)) {
      const part = queue.shift()!;
      parts.push(part);
      size += part.length;
    }
    sending = true;
    void send(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
  };

  const send = async (chunk: Buffer) => {
    let failingSince: number | undefined;
    let wait = FIRST_RETRY_MS;
    for (;;) {
      try {
        await store.append(sessionId, seq, chunk);
        break;
      } catch (error) {
        failingSince ??= now();
        if (failure) return;
        if (now() - failingSince >= GIVE_UP_MS) {
          sending = false;
          return fail(new Error(`appending to the recording failed for ${GIVE_UP_MS / 1000} s: ${(error as Error).message}`, { cause: error }));
        }
        if (wait === FIRST_RETRY_MS) log.warn({ err: error, sessionId, seq }, 'appending to the recording failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        wait = Math.min(wait * 2, MAX_RETRY_MS);
      }
    }
    seq += 1;
    stored += chunk.length;
    sending = false;
    if (failure) return;
    queued -= chunk.length;
    if (queue.length === 0) wake();
    pump();
  };

  /** Resolves once nothing waits to be stored, or the recording failed. */
  const settled = () => (failure || (queue.length === 0 && !sending) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)));

  return {
    write(bytes) {
      if (failure || closed || bytes.length === 0) return;
      // A copy: the writer reuses its buffer.
      queue.push(Buffer.from(bytes));
      queued += bytes.length;
      if (queued > MAX_QUEUED_BYTES) return fail(new Error(`the recording store is more than ${MAX_QUEUED_BYTES / 1024 / 1024} MiB behind`));
      pump();
    },
    async opened() {
      open = true;
      pump();
      await settled();
      if (failure) throw failure;
    },
    async close() {
      if (!closed) {
        closed = true;
        // Never opened (the session was refused): nothing of it goes to the store.
        if (!open) {
          queue.length = 0;
          queued = 0;
        }
      }
      await settled();
      return stored;
    },
    onFailure(listener) {
      if (failure) listener(failure);
      else failureListeners.push(listener);
    },
  };
}
