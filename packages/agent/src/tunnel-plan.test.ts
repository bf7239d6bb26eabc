import { describe, expect, it } from 'vitest';
import { backoffDelay, planTunnels, redialDelay } from './tunnel-plan.ts';

describe('planTunnels', () => {
  it('dials for the first tunnel before any set is known, and not again until one is announced', () => {
    expect(planTunnels([], undefined)).toEqual({ dial: true, drop: [] });
    expect(planTunnels(['r1'], undefined)).toEqual({ dial: false, drop: [] });
  });

  it('dials while a replica of the set is not held, and stops once each is', () => {
    expect(planTunnels(['r1'], ['r1', 'r2', 'r3'])).toEqual({ dial: true, drop: [] });
    expect(planTunnels(['r1', 'r3'], ['r1', 'r2', 'r3'])).toEqual({ dial: true, drop: [] });
    expect(planTunnels(['r3', 'r1', 'r2'], ['r1', 'r2', 'r3'])).toEqual({ dial: false, drop: [] });
  });

  it('drops held replicas that left the set', () => {
    expect(planTunnels(['r1', 'r2', 'r3'], ['r1', 'r3'])).toEqual({ dial: false, drop: ['r2'] });
    expect(planTunnels(['r1', 'r2'], ['r1', 'r3'])).toEqual({ dial: true, drop: ['r2'] });
  });

  it('never drops the last tunnels for a set that names none of them: it dials first', () => {
    expect(planTunnels(['r1', 'r2'], ['r9'])).toEqual({ dial: true, drop: [] });
    expect(planTunnels(['r1', 'r9'], ['r9'])).toEqual({ dial: false, drop: ['r1'] });
  });

  it('dials when it holds nothing, whatever the set', () => {
    expect(planTunnels([], ['r1'])).toEqual({ dial: true, drop: [] });
  });
});

describe('delays', () => {
  it('backoff is full jitter under an exponential cap', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, b, () => 0.999)).toBeCloseTo(99.9);
    expect(backoffDelay(3, b, () => 0.5)).toBe(400);
    expect(backoffDelay(30, b, () => 1)).toBe(1000);
    expect(backoffDelay(5, b, () => 0)).toBe(0);
  });

  it('a redial after a 409 waits half to all of a gently growing pause, capped', () => {
    const r = { baseMs: 100, maxMs: 5000 };
    expect(redialDelay(0, r, () => 0)).toBe(50);
    expect(redialDelay(0, r, () => 1)).toBe(100);
    expect(redialDelay(2, r, () => 1)).toBe(225);
    expect(redialDelay(100, r, () => 1)).toBe(5000);
    expect(redialDelay(100, r, () => 0)).toBe(2500);
  });
});
