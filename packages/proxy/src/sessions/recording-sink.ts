// Where the recording writer's bytes go. Two sinks:
//
//   RecordingWriter ──events──▶ gzipSink ──▶ fileSink   (a file under the recordings dir: the SQLite
//                                                      default, and a proxy run apart, which hands
//                                                      it over at the end)
//                                       └─▶ storeSink  (chunks appended into auth's store, readable
//                                                      from every replica: store-sink.ts)
//
// gzipSink (gzip-sink.ts) compresses for both: the file is `<id>.ztrec.gz`,
// and the store keeps the same gzip stream in chunks. Compressed chunks cut
// what crosses to auth and into PostgreSQL's WAL and table 7 to 200 times
// (printable text, NULs), on the proxies' CPU rather than the database's,
// the one every replica shares; every stored prefix still decodes (sync
// flushes), so any replica replays a running session as before.
//
// The writer hands over whole events, at least every FLUSH_MS, and never
// waits: a sink that cannot keep a recording says so through onFailure, and
// the session then ends (not recorded means not allowed).
import { closeSync, fsyncSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RecordingSink {
  /** Takes whole events. `bytes` is the writer's buffer and is reused once this returns. Throws when they cannot be kept. */
  write(bytes: Buffer): void;
  /** Resolves when the sink holds the first bytes safely (the store sink's header chunk); the session runs only then. */
  opened(): Promise<void>;
  /** Everything written is kept when this resolves, to the recording's size. */
  close(): Promise<number>;
  /** Called at most once, when the recording cannot go on. */
  onFailure(listener: (error: Error) => void): void;
  /** When the sink is behind: resolves once it can take more (the relay stops reading meanwhile). */
  whenWritable?(): Promise<void> | undefined;
}

/** A file written with the session, synced at the end. Opening an existing file fails: a recording is never written over. */
export function fileSink(path: string): RecordingSink {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'wx', 0o600);
  let size = 0;
  let closed = false;
  return {
    write(bytes) {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off);
      size += bytes.length;
    },
    opened: () => Promise.resolve(),
    close() {
      if (closed) return Promise.resolve(size);
      closed = true;
      try {
        fsyncSync(fd);
        size = fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
      return Promise.resolve(size);
    },
    // A failed write throws from write(), as it always has.
    onFailure: () => undefined,
  };
}
