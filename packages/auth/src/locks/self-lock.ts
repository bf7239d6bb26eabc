// An administrator must not lock the last way back in. Roles come from IdP
// groups at login, so the store cannot list who holds a role; what can be
// decided here is: no lock on the caller (their own user, or a role they
// hold, which would shut them out at once), and no role lock that leaves no
// role granting `admin` unlocked. A user lock on another admin is allowed;
// the other admins, or `ztshd locks rm` on the server, undo it.
import { type LockTarget, type Role, ZtshError } from '@ztsh/protocol';
import { permissionsOf } from '../http/caller.ts';
import type { LockRecord } from '../storage/storage.ts';

export type { LockTarget };

const RECOVERY = 'if this lock is really needed, have another admin add it; on the server, ztshd locks rm <id> removes any lock';

/** Roles that grant the admin permission by themselves. */
export function adminRoles(roles: Map<string, Role>): string[] {
  return [...roles.values()].filter((r) => permissionsOf([r]).has('admin')).map((r) => r.metadata.name);
}

/** Throws a 409 when the lock would lock out the caller or every admin role. */
export function checkNotSelfLock(target: LockTarget, caller: { user: string; roles: readonly string[] }, roles: Map<string, Role>, inForce: LockRecord[]): void {
  if ('user' in target) {
    if (target.user === caller.user) {
      throw new ZtshError('conflict', `refused: a lock on user ${target.user} would lock you out yourself`, { hint: RECOVERY });
    }
    return;
  }
  // A lock on one access request ends what it lent; a fresh ztsh login is never shut out by it.
  if ('accessRequest' in target) return;
  if (caller.roles.includes(target.role)) {
    throw new ZtshError('conflict', `refused: you hold role ${target.role}, so a lock on it would lock you out yourself`, { hint: RECOVERY });
  }
  const admins = adminRoles(roles);
  if (!admins.includes(target.role)) return;
  const locked = new Set(inForce.flatMap((l) => ('role' in l.target ? [l.target.role] : [])));
  const left = admins.filter((name) => name !== target.role && !locked.has(name));
  if (left.length === 0) {
    throw new ZtshError('conflict', `refused: role ${target.role} is the last role with the admin permission that is not locked; locking it would leave no one able to remove locks`, {
      hint: RECOVERY,
    });
  }
}
