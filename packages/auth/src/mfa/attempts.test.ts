// The reservation of a second-factor try on each real engine, from two
// replicas at once: forty tries sent together get the five free ones between
// them, whatever the interleaving; the lock then refuses the rest.
import { describe, expect, it } from 'vitest';
import { ENGINES, SERVER_HOOK_MS } from '../storage/storage-engines.fixtures.ts';
import { failureTail, reserveMfaAttempt } from './attempts.ts';

const T0 = Date.parse('2026-11-30T10:00:00Z');

describe.each(ENGINES)('MFA try reservation ($name)', (engine) => {
  it('lets five of forty concurrent tries through, across two replicas', { timeout: SERVER_HOOK_MS }, async () => {
    const store = await engine.fresh();
    const replicas = [await store.open(), await store.open()];
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => reserveMfaAttempt(replicas[i % 2]!, 'alice', T0)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(5);
    expect(outcomes.filter((o) => !o.ok).every((o) => !o.ok && o.waitMs === 60_000)).toBe(true);
    // The refused ones are not counted: the lock is the fifth try's, not the fortieth's.
    expect(await replicas[0]!.mfa.failures('alice')).toEqual({ failures: 5, lockedUntil: T0 + 60_000 });
    // Once the lock has passed, one more try is let through and doubles it.
    const later = await reserveMfaAttempt(replicas[1]!, 'alice', T0 + 60_000);
    expect(later).toEqual({ ok: true, counted: { failures: 6, lockedUntil: T0 + 180_000 } });
  });
});

describe('failureTail', () => {
  it('says the tries left, then the lock', () => {
    expect(failureTail({ failures: 1, lockedUntil: 0 }, T0)).toBe(' 4 tries left.');
    expect(failureTail({ failures: 5, lockedUntil: T0 + 60_000 }, T0)).toBe(' Locked for 1 minute(s).');
  });
});
