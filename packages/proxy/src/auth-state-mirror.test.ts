import { describe, expect, it } from 'vitest';
import type { ProxyState } from '@ztsh/protocol';
import { createStateMirror, STALE_MS } from './auth-state-mirror.ts';

const role = (name: string) => ({ kind: 'role', version: 'v1', metadata: { name }, spec: { allow: { kubernetes_groups: [name] } } });
const state = (locks: ProxyState['locks'] = [], roles: unknown[] = [role('developer')]): ProxyState => ({
  userCaCertificates: ['user-ca'],
  hostCaCertificates: ['host-ca'],
  roles,
  locks,
});
const lock = (id: string, target: { user: string } | { role: string }, expiresAt: number | null = null) => ({ id, target, message: null, createdBy: 'bob', createdAt: 0, expiresAt });

function clock() {
  let t = 1_000_000;
  return { now: () => t, move: (ms: number) => (t += ms) };
}

describe('the state mirror', () => {
  it('refuses everything until the first state, and says why', async () => {
    const mirror = createStateMirror(clock().now);
    mirror.lost('connect ECONNREFUSED');
    expect(mirror.unavailable()).toMatch(/not reached the auth service yet \(connect ECONNREFUSED\)/);
    expect(mirror.userCaCertificates()).toEqual([]);
    expect(mirror.roles(['developer'])).toEqual([]);
    mirror.apply(state());
    await mirror.first;
    expect(mirror.unavailable()).toBeUndefined();
    expect(mirror.userCaCertificates()).toEqual(['user-ca']);
    expect(mirror.hostCaCertificates()).toEqual(['host-ca']);
  });

  it('gives the roles by name, parsed with the role schema, and skips unknown names', () => {
    const mirror = createStateMirror(clock().now);
    mirror.apply(state());
    const [developer] = mirror.roles(['developer', 'ghost']);
    expect(mirror.roles(['developer', 'ghost'])).toHaveLength(1);
    // Defaults the schema fills in are there: the evaluator reads deny without a check.
    expect(developer?.spec.deny).toEqual({});
  });

  it('keeps the old state when a new one has a role that does not parse', () => {
    const mirror = createStateMirror(clock().now);
    mirror.apply(state());
    expect(() => mirror.apply(state([], [{ ...role('x'), spec: { allow: { kubernetes_groups: 'admins' } } }]))).toThrow();
    expect(mirror.roles(['developer'])).toHaveLength(1);
    expect(mirror.roles(['x'])).toEqual([]);
  });

  it('answers lockFor from the copy, by user and by role, until the lock expires', () => {
    const c = clock();
    const mirror = createStateMirror(c.now);
    mirror.apply(state([lock('l1', { user: 'alice' }), lock('l2', { role: 'ops' }, c.now() + 60_000)]));
    expect(mirror.lockFor('alice', [])).toEqual({ id: 'l1', message: 'access locked for user alice (lock l1)' });
    expect(mirror.lockFor('bob', ['ops'])?.id).toBe('l2');
    expect(mirror.lockFor('bob', ['developer'])).toBeUndefined();
    c.move(60_000);
    expect(mirror.lockFor('bob', ['ops'])).toBeUndefined();
  });

  it('tells its listeners when the locks change, and only then', () => {
    const mirror = createStateMirror(clock().now);
    let heard = 0;
    const stop = mirror.onLocksChanged(() => heard++);
    mirror.apply(state());
    mirror.apply(state());
    expect(heard).toBe(0);
    mirror.apply(state([lock('l1', { user: 'alice' })]));
    expect(heard).toBe(1);
    stop();
    mirror.apply(state());
    expect(heard).toBe(1);
  });

  it('goes stale after STALE_MS without a word from auth; a heartbeat keeps it fresh', () => {
    const c = clock();
    const mirror = createStateMirror(c.now);
    mirror.apply(state());
    c.move(STALE_MS);
    expect(mirror.unavailable()).toBeUndefined();
    mirror.heard();
    c.move(STALE_MS + 1);
    mirror.lost('no heartbeat');
    expect(mirror.unavailable()).toMatch(/lost touch with the auth service for 15 s \(no heartbeat\)/);
    mirror.heard();
    expect(mirror.unavailable()).toBeUndefined();
  });
});
