// Ends requests time has ended, on every replica: pending ones nobody decided
// by pendingUntil, approved ones past accessUntil. Each is moved (and its
// access_request.expire audited) by whichever replica writes first; readers
// apply the same step themselves, so an answer never shows a stale state.
import type { Logger } from 'pino';
import type { AccessRequests } from './service.ts';

export const SWEEP_INTERVAL_MS = 15_000;

export function startExpirySweeper(requests: AccessRequests, log: Logger, intervalMs = SWEEP_INTERVAL_MS): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    requests
      .expireDue()
      .catch((err: unknown) => log.warn({ err }, 'cannot expire due access requests'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
