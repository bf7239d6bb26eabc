// What /readyz says about the store. A replica is started only once its
// store is open and the migrations are done (the auth service is created
// after both); from then on it stays ready while a cheap query keeps
// answering. A replica that loses PostgreSQL leaves the load balancer and
// the Service (readiness fails) without being restarted (liveness holds), and
// comes back by itself when the database does.
import type { Logger } from 'pino';

export interface StoreReadiness {
  /** undefined when ready, else the reason /readyz gives. */
  check(): string | undefined;
  stop(): void;
}

export interface StoreReadinessOptions {
  /** A query that succeeds only when the store answers. */
  probe: () => Promise<unknown> | unknown;
  log: Logger;
  /** Between probes; default 5 s (the manifests' readiness period). */
  intervalMs?: number;
  /** A probe not answered by then counts as failed; default 3 s. */
  timeoutMs?: number;
}

export function watchStore(options: StoreReadinessOptions): StoreReadiness {
  const intervalMs = options.intervalMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 3_000;
  let problem: string | undefined;
  let running = false;
  let stopped = false;

  const probeOnce = async () => {
    if (running || stopped) return;
    running = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([Promise.resolve().then(options.probe), late]);
      if (problem !== undefined) options.log.info('the store answers again: ready');
      problem = undefined;
    } catch (error) {
      // The reason is public (/readyz answers without credentials): say what, never the driver's message.
      if (problem === undefined) options.log.error({ err: error }, 'the store does not answer: not ready');
      problem = 'store unreachable';
    } finally {
      clearTimeout(timer);
      running = false;
    }
  };
  const interval = setInterval(() => void probeOnce(), intervalMs);
  interval.unref();
  return {
    check: () => problem,
    stop: () => {
      stopped = true;
      clearInterval(interval);
    },
  };
}
