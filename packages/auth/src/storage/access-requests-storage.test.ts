// The accessRequests section on both engines: read back whole, listed newest
// first, found when due, and changed only by the writer that names the
// version it read (two replicas deciding one request: one wins).
import { describe, expect, it } from 'vitest';
import { ENGINES, SERVER_HOOK_MS } from './storage-engines.fixtures.ts';
import type { AccessRequestRecord } from './storage.ts';

const T0 = Date.parse('2026-11-30T10:00:00Z');
const HOUR = 3_600_000;

const request = (overrides: Partial<AccessRequestRecord> = {}): AccessRequestRecord => ({
  id: 'req-1',
  user: 'alice',
  roles: ['prod-admin'],
  resources: [],
  reason: 'INC-42: the payments pod is stuck',
  state: 'pending',
  createdAt: T0,
  pendingUntil: T0 + 24 * HOUR,
  durationMs: 2 * HOUR,
  accessUntil: null,
  thresholds: { approve: 1, deny: 1 },
  suggestedReviewers: ['bob'],
  reviews: [],
  version: 1,
  ...overrides,
});

describe.each(ENGINES)('access requests ($name)', (engine) => {
  it('reads a request back whole, resources, reviews and odd text included', { timeout: SERVER_HOOK_MS }, async () => {
    const s = await (await engine.fresh()).open();
    const r = request({
      resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }],
      reason: 'quotes \' " and a NUL \u0000 and ünïcode',
      reviews: [{ reviewer: 'bob', decision: 'approve', reason: 'ok', at: new Date(T0).toISOString() }],
    });
    await s.accessRequests.insert(r);
    const back = await s.accessRequests.get('req-1');
    expect(back).toEqual({ ...r, reason: engine.name === 'postgres' ? r.reason.replace('\0', '\uFFFD') : r.reason });
    expect(await s.accessRequests.get('nope')).toBeUndefined();
  });

  it('lists newest first, by user and by state', { timeout: SERVER_HOOK_MS }, async () => {
    const s = await (await engine.fresh()).open();
    await s.accessRequests.insert(request({ id: 'a', createdAt: T0 }));
    await s.accessRequests.insert(request({ id: 'b', createdAt: T0 + 1, user: 'carol' }));
    await s.accessRequests.insert(request({ id: 'c', createdAt: T0 + 2, state: 'denied' }));
    expect((await s.accessRequests.list({})).map((r) => r.id)).toEqual(['c', 'b', 'a']);
    expect((await s.accessRequests.list({ user: 'alice' })).map((r) => r.id)).toEqual(['c', 'a']);
    expect((await s.accessRequests.list({ user: 'alice', state: 'pending' })).map((r) => r.id)).toEqual(['a']);
    expect((await s.accessRequests.list({ limit: 1 })).map((r) => r.id)).toEqual(['c']);
    expect(await s.accessRequests.pendingCount('alice')).toBe(1);
    expect(await s.accessRequests.pendingCount('bob')).toBe(0);
  });

  it('finds what is due: pending past pendingUntil, approved past accessUntil, nothing else', { timeout: SERVER_HOOK_MS }, async () => {
    const s = await (await engine.fresh()).open();
    await s.accessRequests.insert(request({ id: 'pending-due', pendingUntil: T0 + 10 }));
    await s.accessRequests.insert(request({ id: 'pending-later', pendingUntil: T0 + 1000 }));
    await s.accessRequests.insert(request({ id: 'approved-due', state: 'approved', accessUntil: T0 + 10 }));
    await s.accessRequests.insert(request({ id: 'approved-later', state: 'approved', accessUntil: T0 + 1000 }));
    await s.accessRequests.insert(request({ id: 'denied-old', state: 'denied', pendingUntil: T0 }));
    expect((await s.accessRequests.due(T0 + 10, 100)).map((r) => r.id).sort()).toEqual(['approved-due', 'pending-due']);
    expect(await s.accessRequests.due(T0 + 9, 100)).toEqual([]);
  });

  it('applies an update only at the version it read, and bumps the version', { timeout: SERVER_HOOK_MS }, async () => {
    const store = await engine.fresh();
    const one = await store.open();
    const other = await store.open();
    await one.accessRequests.insert(request());
    const review = { reviewer: 'bob', decision: 'approve' as const, reason: 'go', at: new Date(T0).toISOString() };
    // Two replicas read version 1 and both try to decide.
    const [a, b] = await Promise.all([
      one.accessRequests.update('req-1', 1, { state: 'approved', accessUntil: T0 + 2 * HOUR, reviews: [review] }),
      other.accessRequests.update('req-1', 1, { state: 'expired' }),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const after = (await one.accessRequests.get('req-1'))!;
    expect(after.version).toBe(2);
    expect(after.state).toBe(a ? 'approved' : 'expired');
    expect(await one.accessRequests.update('req-1', 1, { state: 'dropped' })).toBe(false);
    expect(await one.accessRequests.update('nope', 1, { state: 'dropped' })).toBe(false);
    expect(await one.accessRequests.update('req-1', 2, { state: 'dropped' })).toBe(true);
    expect(await other.accessRequests.get('req-1')).toMatchObject({ state: 'dropped', version: 3 });
  });
});
