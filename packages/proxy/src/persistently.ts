// What must reach auth in the end (a session's end, its recording) is tried
// again a few times before the proxy gives up and logs it.
import type { Logger } from 'pino';

export interface RetryOptions {
  log: Logger;
  /** True once the proxy is stopping: no more tries. */
  stopped: () => boolean;
  /** 6 tries over about half a minute by default. */
  attempts?: number;
  firstWaitMs?: number;
}

/** Runs fn until it succeeds; waits double after each failure; rethrows the last failure. */
export async function persistently(what: string, fn: () => Promise<unknown>, options: RetryOptions): Promise<void> {
  const attempts = options.attempts ?? 6;
  let wait = options.firstWaitMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (error) {
      if (attempt >= attempts || options.stopped()) throw error;
      options.log.warn({ err: error, attempt }, `${what} failed; trying again`);
      await new Promise((r) => setTimeout(r, wait));
      wait *= 2;
    }
  }
}
