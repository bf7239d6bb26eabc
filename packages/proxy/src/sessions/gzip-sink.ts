// A recording compressed on its way to its sink (a file, or chunks in auth's
// store): one gzip stream at zlib's fastest level, flushed with
// Z_SYNC_FLUSH after every batch the writer hands over (at least every
// FLUSH_MS), so what reached the inner sink always decodes up to the last
// batch, with or without the gzip trailer (castText in @ztsh/protocol). A
// crash still loses at most a second.
//
//   RecordingWriter ──events──▶ gzipSink ──zlib (thread pool)──▶ fileSink | storeSink
//
// Compression runs on libuv's thread pool, not on the thread that relays
// every session. What waits for it is bounded: past HIGH_WATER_BYTES the
// relay stops reading the side that sends (whenWritable), and past
// MAX_BACKLOG_BYTES, which a relay that stops reading does not reach, the
// recording fails and the session ends (not recorded means not allowed).
import { constants, createGzip } from 'node:zlib';
import type { RecordingSink } from './recording-sink.ts';

/** Uncompressed bytes waiting for zlib past which the relay pauses. */
export const HIGH_WATER_BYTES = 1024 * 1024;
/** Uncompressed bytes waiting for zlib past which the recording fails. */
export const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;

export function gzipSink(inner: RecordingSink): RecordingSink {
  // Level 1: several times faster than the default for a few percent more bytes;
  // memLevel 8 and a 32 KiB window (the defaults) hold about 256 KiB per session.
  const gzip = createGzip({ level: constants.Z_BEST_SPEED });
  let backlog = 0;
  let inFlight = 0;
  let ended = false;
  let closing: Promise<number> | undefined;
  let failure: Error | undefined;
  const failureListeners: ((error: Error) => void)[] = [];
  let drained: (() => void)[] = [];
  let settled: (() => void)[] = [];
  const release = (waiters: (() => void)[]) => {
    for (const w of waiters) w();
  };

  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    for (const listener of failureListeners) listener(error);
    release(drained.splice(0));
    release(settled.splice(0));
  };
  inner.onFailure(fail);
  gzip.on('data', (piece: Buffer) => {
    if (failure) return;
    try {
      inner.write(piece);
    } catch (error) {
      fail(new Error(`the recording cannot be written: ${(error as Error).message}`, { cause: error }));
    }
  });
  gzip.on('error', (error) => fail(new Error(`compressing the recording failed: ${error.message}`, { cause: error })));

  return {
    write(bytes) {
      if (failure || ended || bytes.length === 0) return;
      backlog += bytes.length;
      if (backlog > MAX_BACKLOG_BYTES) return fail(new Error(`compressing the recording is more than ${MAX_BACKLOG_BYTES / 1024 / 1024} MiB behind`));
      // A copy: the writer reuses its buffer as soon as this returns.
      const copy = Buffer.from(bytes);
      inFlight += 1;
      gzip.write(copy);
      // The sync flush ends this batch on a byte boundary: everything before it decodes on its own.
      gzip.flush(constants.Z_SYNC_FLUSH, () => {
        backlog -= copy.length;
        inFlight -= 1;
        if (backlog < HIGH_WATER_BYTES) release(drained.splice(0));
        if (inFlight === 0) release(settled.splice(0));
      });
    },
    whenWritable() {
      if (failure || backlog < HIGH_WATER_BYTES) return undefined;
      return new Promise<void>((resolve) => drained.push(resolve));
    },
    async opened() {
      // The header goes through zlib before the inner sink can take it (the store's first chunk).
      if (inFlight > 0 && !failure) await new Promise<void>((resolve) => settled.push(resolve));
      if (failure) throw failure;
      await inner.opened();
    },
    close() {
      closing ??= (async () => {
        ended = true;
        if (!failure) {
          await new Promise<void>((resolve) => {
            const done = () => resolve();
            gzip.once('end', done);
            gzip.once('error', done);
            gzip.end();
          });
        } else gzip.destroy();
        release(drained.splice(0));
        return inner.close();
      })();
      return closing;
    },
    onFailure(listener) {
      if (failure) listener(failure);
      else failureListeners.push(listener);
    },
  };
}
