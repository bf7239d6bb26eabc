// A proxy run apart from auth writes each recording in its own data dir
// while the session runs, and hands it to auth whole when the session ends:
// auth stores it (written beside, synced, renamed) and the proxy deletes its
// copy. One that could not be handed over stays and is handed over at the
// proxy's next start (leftovers()).
import { createReadStream, existsSync, readdirSync, rmSync, statSync, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RECORDING_FILE_NAME } from '@ztsh/protocol';
import { persistently, type RetryOptions } from './persistently.ts';

export interface RecordingHandoverOptions {
  /** The proxy's recordings dir: `<day>/<session id>.ztrec.gz` (`.cast.gz` or `.cast` from before). */
  dir: string;
  /** Sends one whole recording to auth; rejects when auth has not stored it. */
  upload(sessionId: string, file: ReadStream, size: number): Promise<void>;
  log: Logger;
  retry: Omit<RetryOptions, 'log'>;
}

export interface RecordingHandover {
  /** This session's recording is at `relative` (set at its start, or from auth's list of unfinished ones). */
  remember(sessionId: string, relative: string): void;
  /** Hands over the session's recording, if it has one here, trying a few times. */
  sessionEnded(sessionId: string): Promise<void>;
  /** Hands over what earlier runs left in the dir. */
  leftovers(): Promise<void>;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** A recording's file name: auth stores the bytes under the session's own recording path, never under this name. */
const CAST = new RegExp(`^${RECORDING_FILE_NAME}$`);

export function recordingHandover(options: RecordingHandoverOptions): RecordingHandover {
  const { log } = options;
  const recordingOf = new Map<string, string>();

  async function handOver(id: string, relative: string): Promise<void> {
    const path = join(options.dir, relative);
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    await options.upload(id, createReadStream(path), size);
    rmSync(path, { force: true });
    recordingOf.delete(id);
  }

  return {
    remember(id, relative) {
      recordingOf.set(id, relative);
    },
    async sessionEnded(id) {
      const relative = recordingOf.get(id);
      if (!relative) return;
      try {
        await persistently('handing over a recording', () => handOver(id, relative), { ...options.retry, log });
      } catch (error) {
        log.error({ err: error, sessionId: id }, 'the recording stays in the proxy until it can be handed over');
      }
    },
    async leftovers() {
      if (!existsSync(options.dir)) return;
      for (const day of readdirSync(options.dir)) {
        if (!DAY.test(day)) continue;
        for (const name of readdirSync(join(options.dir, day))) {
          const m = CAST.exec(name);
          if (!m) continue;
          try {
            await handOver(m[1]!, `${day}/${name}`);
            log.info({ sessionId: m[1] }, 'handed over a recording left from before');
          } catch (error) {
            log.warn({ err: error, sessionId: m[1] }, 'a recording left from before could not be handed over yet');
          }
        }
      }
    },
  };
}
