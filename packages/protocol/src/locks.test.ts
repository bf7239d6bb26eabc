import { describe, expect, it } from 'vitest';
import { LockEntry, lockApplies, lockMessage, type LockRecord } from './locks.ts';

const lock = (target: LockRecord['target'], expiresAt: number | null = null, message: string | null = null): LockRecord => ({
  id: 'l1',
  target,
  message,
  createdBy: 'bob',
  createdAt: 1_000,
  expiresAt,
});

describe('lockApplies', () => {
  it('shuts out the user it names, and only that user', () => {
    expect(lockApplies(lock({ user: 'alice' }), 'alice', [], 2_000)).toBe(true);
    expect(lockApplies(lock({ user: 'alice' }), 'alice2', ['alice'], 2_000)).toBe(false);
  });
  it('shuts out everyone holding the role it names', () => {
    expect(lockApplies(lock({ role: 'developer' }), 'carol', ['auditor', 'developer'], 2_000)).toBe(true);
    expect(lockApplies(lock({ role: 'developer' }), 'developer', ['auditor'], 2_000)).toBe(false);
  });
  it('shuts out a certificate carrying the access request it names, and nothing else', () => {
    const onA = lock({ accessRequest: 'req-a' });
    expect(lockApplies(onA, 'alice', ['developer'], 2_000, ['req-b', 'req-a'])).toBe(true);
    expect(lockApplies(onA, 'alice', ['developer'], 2_000, ['req-b'])).toBe(false);
    expect(lockApplies(onA, 'alice', ['developer'], 2_000)).toBe(false);
    // Neither a user nor a role of that name is the request.
    expect(lockApplies(onA, 'req-a', ['req-a'], 2_000, [])).toBe(false);
    expect(lockApplies(lock({ role: 'req-a' }), 'alice', [], 2_000, ['req-a'])).toBe(false);
  });
  it('ends at its expiry, not a millisecond later', () => {
    expect(lockApplies(lock({ user: 'alice' }, 5_000), 'alice', [], 4_999)).toBe(true);
    expect(lockApplies(lock({ user: 'alice' }, 5_000), 'alice', [], 5_000)).toBe(false);
  });
});

describe('lockMessage', () => {
  it('names whom it locks, why, and the lock', () => {
    expect(lockMessage(lock({ user: 'alice' }, null, 'incident 42'))).toBe('access locked for user alice: incident 42 (lock l1)');
    expect(lockMessage(lock({ role: 'developer' }))).toBe('access locked for role developer (lock l1)');
    expect(lockMessage(lock({ accessRequest: 'req-a' }, null, 'dropped'))).toBe('access locked for access request req-a: dropped (lock l1)');
  });
});

describe('LockEntry', () => {
  it('parses what auth sends and refuses a lock with no target', () => {
    expect(LockEntry.parse(lock({ role: 'x' }))).toEqual(lock({ role: 'x' }));
    expect(LockEntry.safeParse({ ...lock({ user: 'a' }), target: {} }).success).toBe(false);
    expect(LockEntry.parse(lock({ accessRequest: 'r' })).target).toEqual({ accessRequest: 'r' });
    // One kind per target: a shape that names two could be read two ways.
    expect(LockEntry.safeParse({ ...lock({ user: 'a' }), target: { user: 'a', accessRequest: 'r' } }).success).toBe(false);
    expect(LockEntry.safeParse({ ...lock({ user: 'a' }), target: { accessRequest: '' } }).success).toBe(false);
  });
});
