// Back-off after wrong second-factor codes: four misses are free, the fifth
// locks the user out for a minute, and each further miss for twice as long
// (1 min, 2, 4 … 1 h).
import type { MfaFailures } from '../storage/storage.ts';

export const FREE_FAILURES = 5;
const BASE_LOCK_MS = 60_000;
const MAX_LOCK_MS = 3_600_000;

export function afterFailure(current: MfaFailures, nowMs: number): MfaFailures {
  const failures = current.failures + 1;
  if (failures < FREE_FAILURES) return { failures, lockedUntil: 0 };
  const lockMs = Math.min(MAX_LOCK_MS, BASE_LOCK_MS * 2 ** (failures - FREE_FAILURES));
  return { failures, lockedUntil: nowMs + lockMs };
}

export function lockedFor(current: MfaFailures, nowMs: number): number {
  return Math.max(0, current.lockedUntil - nowMs);
}
