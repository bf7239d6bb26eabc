import { describe, expect, it } from 'vitest';
import type { MfaFailures } from '../storage/storage.ts';
import { afterFailure, FREE_FAILURES, lockedFor } from './backoff.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;

/** Applies `n` failures in a row at the same instant, from a clean slate. */
function fail(n: number, now = NOW): MfaFailures {
  let state: MfaFailures = { failures: 0, lockedUntil: 0 };
  for (let i = 0; i < n; i++) state = afterFailure(state, now);
  return state;
}

describe('MFA back-off', () => {
  it('leaves the first four failures unlocked', () => {
    expect(FREE_FAILURES).toBe(5);
    for (let n = 1; n <= 4; n++) {
      const state = fail(n);
      expect(state).toEqual({ failures: n, lockedUntil: 0 });
      expect(lockedFor(state, NOW)).toBe(0);
    }
  });

  it('locks for one minute on the fifth failure', () => {
    const state = fail(5);
    expect(state).toEqual({ failures: 5, lockedUntil: NOW + MIN });
    expect(lockedFor(state, NOW)).toBe(MIN);
  });

  it('doubles the lock with each further failure', () => {
    expect(lockedFor(fail(6), NOW)).toBe(2 * MIN);
    expect(lockedFor(fail(7), NOW)).toBe(4 * MIN);
    expect(lockedFor(fail(8), NOW)).toBe(8 * MIN);
    expect(lockedFor(fail(9), NOW)).toBe(16 * MIN);
    expect(lockedFor(fail(10), NOW)).toBe(32 * MIN);
  });

  it('caps the lock at one hour', () => {
    expect(lockedFor(fail(11), NOW)).toBe(60 * MIN);
    expect(lockedFor(fail(12), NOW)).toBe(60 * MIN);
    expect(lockedFor(fail(50), NOW)).toBe(60 * MIN);
  });

  it('counts the lock from the time of the failure', () => {
    const later = NOW + 10 * MIN;
    const state = afterFailure(fail(4), later);
    expect(state.lockedUntil).toBe(later + MIN);
  });

  it('reports the time left, and zero once the lock has passed', () => {
    const state = fail(6);
    expect(lockedFor(state, NOW + 30_000)).toBe(2 * MIN - 30_000);
    expect(lockedFor(state, NOW + 2 * MIN)).toBe(0);
    expect(lockedFor(state, NOW + 3 * MIN)).toBe(0);
  });

  it('is not locked with no failures on record', () => {
    expect(lockedFor({ failures: 0, lockedUntil: 0 }, NOW)).toBe(0);
  });
});
