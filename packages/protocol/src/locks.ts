// Locks as both sides see them: auth stores and lists them, a proxy run
// apart keeps the copy auth streams to it, and both ask the same question of
// each one (lockApplies) and tell a refused user the same thing (lockMessage).
import { z } from 'zod';

export const LockEntry = z.object({
  id: z.string(),
  target: z.union([z.object({ user: z.string() }), z.object({ role: z.string() })]),
  message: z.string().nullable(),
  createdBy: z.string(),
  /** ms since the epoch. */
  createdAt: z.number(),
  /** ms since the epoch; null: until removed. */
  expiresAt: z.number().nullable(),
});
export type LockRecord = z.infer<typeof LockEntry>;

export function lockMessage(lock: LockRecord): string {
  const who = 'user' in lock.target ? `user ${lock.target.user}` : `role ${lock.target.role}`;
  return `access locked for ${who}${lock.message ? `: ${lock.message}` : ''} (lock ${lock.id})`;
}

/** Whether this lock, in force at `now`, shuts out this user or one of these roles. */
export function lockApplies(lock: LockRecord, user: string, roles: readonly string[], now: number): boolean {
  if (lock.expiresAt !== null && lock.expiresAt <= now) return false;
  return 'user' in lock.target ? lock.target.user === user : roles.includes(lock.target.role);
}
