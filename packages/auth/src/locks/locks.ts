// Locks: an administrator's way to shut a person or a role out at once. A
// lock refuses new certificates and every kube request from a matching
// identity, and the proxy ends that identity's live streams when told.
import { lockApplies, lockMessage, lockTargetText, type LockTarget, ZtshError } from '@ztsh/protocol';

// What a lock is and whom it shuts out is shared with the proxy (@ztsh/protocol).
export { lockApplies, lockMessage, lockTargetText };
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock, IdSource } from '../clock.ts';
import type { LockRecord, Storage } from '../storage/storage.ts';

export interface NewLock {
  target: LockTarget;
  ttlMs?: number | undefined;
  message?: string | undefined;
  createdBy: string;
}

export interface Locks {
  /** Stored, audited and in force here when the promise settles. */
  add(lock: NewLock): Promise<LockRecord>;
  remove(id: string, by: string): Promise<boolean>;
  /** Locks in force now. */
  list(): LockRecord[];
  /**
   * The lock that shuts out this user, one of these roles, or a certificate
   * carrying one of these access requests (identity.accessRequests ids), if any.
   */
  lockFor(user: string, roles: readonly string[], accessRequests?: readonly string[]): LockRecord | undefined;
  /** Called after a lock is added or removed. */
  subscribe(listener: () => void): () => void;
  /**
   * Re-reads the store: a lock added or removed by another process (ztshd
   * locks rm on the server, another replica) takes effect here, and
   * listeners hear of it.
   */
  refresh(): Promise<void>;
  /** Stops following the store's change feed. */
  close(): void;
}

/**
 * `onError`: told when a re-read that a change elsewhere asked for fails
 * (the next change or poll tries again).
 */
export async function createLocks(storage: Storage, clock: Clock, ids: IdSource, audit: AuditLog, onError: (error: unknown) => void = () => {}): Promise<Locks> {
  // Kept in memory: every kube request asks, and a lock must apply to the
  // very next one. Expiry is checked against the clock on each question.
  let cache = await storage.locks.active(clock.now().getTime());
  // Reads may finish out of order: a read never replaces the result of one that started after it.
  let started = 0;
  let applied = 0;
  const load = async (): Promise<boolean> => {
    const mine = ++started;
    const fresh = await storage.locks.active(clock.now().getTime());
    if (mine < applied) return false;
    applied = mine;
    const ids = (locks: LockRecord[]) => locks.map((l) => l.id).sort().join(' ');
    const differs = ids(fresh) !== ids(cache);
    cache = fresh;
    return differs;
  };
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  /** After a change made here: in force here first, then every other process on the store is told. */
  const changed = async () => {
    await load();
    notify();
    await storage.changes.publish('locks');
  };
  const refresh = async () => {
    if (await load()) notify();
  };
  const unsubscribe = storage.changes.subscribe((topic) => {
    if (topic === 'locks') refresh().catch(onError);
  });
  const alive = (lock: LockRecord, now: number) => lock.expiresAt === null || lock.expiresAt > now;
  return {
    async add(input) {
      const target = 'user' in input.target ? input.target.user : 'role' in input.target ? input.target.role : input.target.accessRequest;
      if (!target) throw new ZtshError('bad_request', 'a lock needs a user, a role or an access request');
      const now = clock.now().getTime();
      const lock: LockRecord = {
        // Never a leading "-": the id is typed as an argument (ztsh lock rm ID), where it would read as an option.
        id: ids.id(9).replace(/^-/, '_'),
        target: input.target,
        message: input.message ?? null,
        createdBy: input.createdBy,
        createdAt: now,
        expiresAt: input.ttlMs ? now + input.ttlMs : null,
      };
      await storage.locks.insert(lock);
      await audit.emit('lock.created', true, {
        user: input.createdBy,
        message: lockMessage(lock),
        fields: { lockId: lock.id, target: lock.target, expiresAt: lock.expiresAt ? new Date(lock.expiresAt).toISOString() : null, lockMessage: lock.message },
      });
      await changed();
      return lock;
    },
    async remove(id, by) {
      const lock = cache.find((l) => l.id === id);
      const removed = await storage.locks.remove(id);
      if (removed) {
        await audit.emit('lock.removed', true, { user: by, message: `lock ${id} removed`, fields: { lockId: id, target: lock?.target } });
        await changed();
      }
      return removed;
    },
    list() {
      const now = clock.now().getTime();
      return cache.filter((l) => alive(l, now));
    },
    lockFor(user, roles, accessRequests = []) {
      if (cache.length === 0) return undefined;
      const now = clock.now().getTime();
      return cache.find((l) => lockApplies(l, user, roles, now, accessRequests));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refresh,
    close: unsubscribe,
  };
}
