import { describe, expect, it } from 'vitest';
import { ENGINES } from './storage-engines.fixtures.ts';
import type { WebSessionRecord } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');

const session = (overrides: Partial<WebSessionRecord> = {}): WebSessionRecord => ({
  hash: 'hash-1',
  user: 'carol',
  roles: ['auditor'],
  loginId: 'login-1',
  clientIp: '203.0.113.7',
  createdAt: T0,
  expiresAt: T0 + 4 * 3_600_000,
  ...overrides,
});

describe.each(ENGINES)('web sessions ($name)', (engine) => {
  it('reads back a session by its hash while it lives, and not after', async () => {
    const s = await (await engine.fresh()).open();
    await s.webSessions.insert(session());
    expect(await s.webSessions.get('hash-1', T0)).toEqual(session());
    expect(await s.webSessions.get('hash-1', T0 + 4 * 3_600_000)).toBeUndefined();
    expect(await s.webSessions.get('other', T0)).toBeUndefined();
  });

  it('removes one session (sign-out) and sweeps the expired ones', async () => {
    const s = await (await engine.fresh()).open();
    await s.webSessions.insert(session());
    await s.webSessions.insert(session({ hash: 'hash-2', expiresAt: T0 + 1000 }));
    await s.webSessions.insert(session({ hash: 'hash-3', expiresAt: T0 + 9_000_000 }));
    expect(await s.webSessions.remove('hash-1')).toBe(true);
    expect(await s.webSessions.remove('hash-1')).toBe(false);
    expect(await s.webSessions.deleteExpired(T0 + 2000)).toBe(1);
    expect(await s.webSessions.get('hash-2', T0)).toBeUndefined();
    expect(await s.webSessions.get('hash-3', T0)).toMatchObject({ user: 'carol' });
  });
});
