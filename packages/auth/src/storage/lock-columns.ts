// A lock's target in both engines' locks table: a kind and a value.
import type { LockTarget } from '@ztsh/protocol';

export function lockTargetRow(target: LockTarget): [kind: 'user' | 'role' | 'access_request', value: string] {
  if ('user' in target) return ['user', target.user];
  if ('role' in target) return ['role', target.role];
  return ['access_request', target.accessRequest];
}

export function lockTargetFromRow(kind: string, value: string): LockTarget {
  if (kind === 'user') return { user: value };
  if (kind === 'role') return { role: value };
  if (kind === 'access_request') return { accessRequest: value };
  // The table's CHECK allows no other kind: a row like this was not written by ztshd.
  throw new Error(`lock target kind "${kind}" is not one ztshd knows`);
}
