import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchStore } from './store-readiness.ts';

const log = pino({ level: 'silent' });

describe('watchStore', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('is ready at start (the store was opened and migrated before), unready after a failed probe, ready again once it answers', async () => {
    let fail = false;
    const ready = watchStore({ probe: async () => (fail ? Promise.reject(new Error('ECONNREFUSED 10.0.0.5:5432 password=hunter2')) : 1), log, intervalMs: 1_000 });
    expect(ready.check()).toBeUndefined();
    fail = true;
    await vi.advanceTimersByTimeAsync(1_000);
    // A fixed reason: /readyz is public, the driver's message is not.
    expect(ready.check()).toBe('store unreachable');
    fail = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ready.check()).toBeUndefined();
    ready.stop();
  });

  it('counts a probe that hangs as a failure', async () => {
    const ready = watchStore({ probe: () => new Promise(() => undefined), log, intervalMs: 1_000, timeoutMs: 500 });
    await vi.advanceTimersByTimeAsync(1_400);
    expect(ready.check()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(ready.check()).toBe('store unreachable');
    ready.stop();
  });

  it('runs one probe at a time and none after stop', async () => {
    let calls = 0;
    const ready = watchStore({ probe: () => { calls++; return new Promise(() => undefined); }, log, intervalMs: 100, timeoutMs: 10_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(1);
    ready.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls).toBe(1);
  });
});
