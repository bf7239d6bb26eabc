// An allowed kube answer is complete for the client when it ends, or, with
// a Content-Length, when its last byte arrives (an HTTP/1.1 client stops
// reading there). Whatever completes it waits until the request's audit
// event is stored, so an answer a client holds is in the audit log even if
// this replica is killed right after. Headers and every other body byte go
// out as they come: a watch or a followed log streams at once.
import type { Readable } from 'node:stream';

/** Where the body goes: an HTTP/1.1 or HTTP/2 compatibility response. */
export interface BodySink {
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface BodyRelay {
  /** Stops passing the body on (the answer is being ended another way). */
  stop(): void;
}

/** The Content-Length an answer's headers declare, or undefined (none, or not a plain count). */
export function declaredLength(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Passes `from` to `to` with backpressure, except the bytes that would
 * complete a body of `length` bytes: those, and the end, go to `onEnd` once
 * `from` has ended. `onChunk` sees every chunk, held or not.
 */
export function relayHoldingEnd(from: Readable, to: BodySink, length: number | undefined, onChunk: (chunk: Buffer) => void, onEnd: (held: Buffer[]) => void): BodyRelay {
  let passed = 0;
  const held: Buffer[] = [];
  let stopped = false;
  const onData = (chunk: Buffer) => {
    onChunk(chunk);
    if (length !== undefined && (held.length > 0 || passed + chunk.length >= length)) {
      held.push(chunk);
      return;
    }
    passed += chunk.length;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => {
        if (!stopped) from.resume();
      });
    }
  };
  const onFromEnd = () => {
    if (!stopped) onEnd(held.splice(0));
  };
  from.on('data', onData);
  from.once('end', onFromEnd);
  return {
    stop() {
      stopped = true;
      held.length = 0;
      from.off('data', onData);
      from.off('end', onFromEnd);
    },
  };
}
