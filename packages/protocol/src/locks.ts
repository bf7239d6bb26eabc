// Locks as both sides see them: auth stores and lists them, a proxy run
// apart keeps the copy auth streams to it, and both ask the same question of
// each one (lockApplies) and tell a refused user the same thing (lockMessage).
import { z } from 'zod';

/**
 * Whom a lock shuts out: a user, every certificate carrying a role, or every
 * certificate re-issued under one access request (made when an approved
 * request is dropped: what it lent ends at once, together with the rest of
 * those certificates; a fresh login, which carries no request, is not shut out).
 */
export const LockTarget = z.union([
  z.strictObject({ user: z.string().min(1) }),
  z.strictObject({ role: z.string().min(1) }),
  z.strictObject({ accessRequest: z.string().min(1).max(64) }),
]);
export type LockTarget = z.infer<typeof LockTarget>;

export const LockEntry = z.object({
  id: z.string(),
  target: LockTarget,
  message: z.string().nullable(),
  createdBy: z.string(),
  /** ms since the epoch. */
  createdAt: z.number(),
  /** ms since the epoch; null: until removed. */
  expiresAt: z.number().nullable(),
});
export type LockRecord = z.infer<typeof LockEntry>;

/** The target in words: "user alice", "role prod-admin", "access request 0b6c…". */
export function lockTargetText(target: LockTarget): string {
  if ('user' in target) return `user ${target.user}`;
  if ('role' in target) return `role ${target.role}`;
  return `access request ${target.accessRequest}`;
}

export function lockMessage(lock: LockRecord): string {
  return `access locked for ${lockTargetText(lock.target)}${lock.message ? `: ${lock.message}` : ''} (lock ${lock.id})`;
}

/**
 * Whether this lock, in force at `now`, shuts out this user, one of these
 * roles, or a certificate carrying one of these access requests
 * (identity.accessRequests ids).
 */
export function lockApplies(lock: LockRecord, user: string, roles: readonly string[], now: number, accessRequests: readonly string[] = []): boolean {
  if (lock.expiresAt !== null && lock.expiresAt <= now) return false;
  if ('user' in lock.target) return lock.target.user === user;
  if ('role' in lock.target) return roles.includes(lock.target.role);
  return accessRequests.includes(lock.target.accessRequest);
}
