import { describe, expect, it } from 'vitest';
import { type Role, RoleSchema, ZtshError } from '@ztsh/protocol';
import type { LockRecord } from '../storage/storage.ts';
import { adminRoles, checkNotSelfLock } from './self-lock.ts';

function role(name: string, allow: string[] = [], deny: string[] = []): Role {
  return RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec: { allow: { permissions: allow }, deny: { permissions: deny } } });
}

const roles = new Map([
  ['ops-admin', role('ops-admin', ['admin'])],
  ['sec-admin', role('sec-admin', ['admin', 'audit'])],
  ['half-admin', role('half-admin', ['admin'], ['admin'])],
  ['developer', role('developer')],
]);

const roleLock = (name: string): LockRecord => ({ id: `l-${name}`, target: { role: name }, message: null, createdBy: 'x', createdAt: 0, expiresAt: null });

function refusal(fn: () => void): ZtshError | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ZtshError) return error;
    throw error;
  }
  return undefined;
}

describe('item 9: checkNotSelfLock', () => {
  const bob = { user: 'bob', roles: ['ops-admin'] };

  it('item 9: lists the roles that grant admin by themselves', () => {
    expect(adminRoles(roles).sort()).toEqual(['ops-admin', 'sec-admin']);
  });

  it('item 9: refuses a lock on the caller, or on any role the caller holds, with 409', () => {
    expect(refusal(() => checkNotSelfLock({ user: 'bob' }, bob, roles, []))?.status).toBe(409);
    expect(refusal(() => checkNotSelfLock({ role: 'ops-admin' }, bob, roles, []))?.message).toMatch(/lock you out yourself/);
    expect(refusal(() => checkNotSelfLock({ role: 'developer' }, { user: 'bob', roles: ['ops-admin', 'developer'] }, roles, []))?.status).toBe(409);
  });

  it('item 9: refuses locking the last admin role that is not locked yet', () => {
    const carol = { user: 'carol', roles: ['sec-admin'] };
    expect(refusal(() => checkNotSelfLock({ role: 'ops-admin' }, carol, roles, []))).toBeUndefined();
    const last = refusal(() => checkNotSelfLock({ role: 'sec-admin' }, bob, roles, [roleLock('ops-admin')]));
    expect(last?.status).toBe(409);
    expect(last?.message).toMatch(/last role with the admin permission/);
  });

  it('item 9: allows locks on other users and on roles without admin', () => {
    expect(refusal(() => checkNotSelfLock({ user: 'alice' }, bob, roles, []))).toBeUndefined();
    expect(refusal(() => checkNotSelfLock({ role: 'developer' }, bob, roles, [roleLock('sec-admin')]))).toBeUndefined();
    expect(refusal(() => checkNotSelfLock({ role: 'half-admin' }, bob, roles, [roleLock('sec-admin')]))).toBeUndefined();
  });
});
