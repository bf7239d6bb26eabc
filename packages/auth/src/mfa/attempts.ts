// A second-factor attempt is counted before its code is looked at: the
// counter is read, checked against the back-off and raised in one atomic
// storage step, so N guesses sent at once (to one process or to several
// replicas) get at most the free tries between them. A right code then clears
// the count; a wrong one has nothing left to record.
import type { Storage, MfaFailures } from '../storage/storage.ts';
import { afterFailure, FREE_FAILURES, lockedFor } from './backoff.ts';

export type Reservation = { ok: true; counted: MfaFailures } | { ok: false; waitMs: number };

export async function reserveMfaAttempt(storage: Pick<Storage, 'mfa'>, user: string, nowMs: number): Promise<Reservation> {
  let waitMs = 0;
  const stored = await storage.mfa.recordFailure(user, (current) => {
    // Set on every call of this step, so the answer is the stored one's.
    waitMs = lockedFor(current, nowMs);
    return waitMs > 0 ? current : afterFailure(current, nowMs);
  });
  return waitMs > 0 ? { ok: false, waitMs } : { ok: true, counted: stored };
}

/** What a refused code's message ends with: the tries left, or the lock it earned. */
export function failureTail(counted: MfaFailures, nowMs: number): string {
  const left = FREE_FAILURES - counted.failures;
  if (counted.lockedUntil > nowMs) return ` Locked for ${Math.ceil((counted.lockedUntil - nowMs) / 60_000)} minute(s).`;
  return left > 0 ? ` ${left} tries left.` : '';
}
