import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/audit-log.ts';
import { randomIds, systemClock } from '../clock.ts';
import { openSqliteStorage } from '../storage/sqlite.ts';
import type { ChangeTopic, Storage } from '../storage/storage.ts';
import { createLocks } from './locks.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function store(): Storage {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-locks-'));
  const storage = openSqliteStorage(join(dir, 'ztsh.db'));
  cleanups.push(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return storage;
}

const locksOn = async (storage: Storage) => {
  const locks = await createLocks(storage, systemClock, randomIds, createAuditLog(storage, systemClock));
  cleanups.unshift(async () => locks.close());
  return locks;
};

describe('locks over the store and its change feed', () => {
  it('a lock added is in force here at once, and announced as a locks change', async () => {
    const storage = store();
    const heard: ChangeTopic[] = [];
    storage.changes.subscribe((topic) => heard.push(topic));
    const locks = await locksOn(storage);
    const lock = await locks.add({ target: { user: 'alice' }, createdBy: 'bob' });
    expect(locks.lockFor('alice', [])?.id).toBe(lock.id);
    expect(heard).toEqual(['locks']);
    expect((await storage.audit.list()).map((e) => e.type)).toEqual(['lock.created']);
    expect(await locks.remove(lock.id, 'bob')).toBe(true);
    expect(await locks.remove(lock.id, 'bob')).toBe(false);
    expect(locks.lockFor('alice', [])).toBeUndefined();
    expect(heard).toEqual(['locks', 'locks']);
  });

  it('a lock on an access request is stored, read back and shuts out only certificates carrying it', async () => {
    const storage = store();
    const locks = await locksOn(storage);
    const lock = await locks.add({ target: { accessRequest: 'req-a' }, ttlMs: 60_000, message: 'dropped', createdBy: 'alice' });
    expect(locks.lockFor('alice', ['developer'], ['req-a'])?.id).toBe(lock.id);
    expect(locks.lockFor('alice', ['developer'], ['req-b'])).toBeUndefined();
    expect(locks.lockFor('alice', ['developer'])).toBeUndefined();
    expect(await storage.locks.active(Date.now())).toEqual([lock]);
    // Another process reading the store sees the same target.
    const again = await locksOn(storage);
    expect(again.list()).toEqual([lock]);
  });

  it('another holder of the store hears of a lock through the change feed, without waiting for a poll', async () => {
    const storage = store();
    const here = await locksOn(storage);
    const there = await locksOn(storage);
    const told = new Promise<void>((resolve) => there.subscribe(resolve));
    const lock = await here.add({ target: { role: 'developer' }, createdBy: 'bob' });
    await told;
    expect(there.lockFor('carol', ['developer'])?.id).toBe(lock.id);
  });

  it('a lock written to the store by someone else applies once its change is published', async () => {
    const storage = store();
    const locks = await locksOn(storage);
    const now = Date.now();
    await storage.locks.insert({ id: 'elsewhere', target: { user: 'dave' }, message: null, createdBy: 'ztshd:root', createdAt: now, expiresAt: null });
    expect(locks.lockFor('dave', [])).toBeUndefined();
    const told = new Promise<void>((resolve) => locks.subscribe(resolve));
    await storage.changes.publish('locks');
    await told;
    expect(locks.lockFor('dave', [])?.id).toBe('elsewhere');
    // Other topics are not about locks.
    await storage.locks.remove('elsewhere');
    await storage.changes.publish('join_tokens');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(locks.lockFor('dave', [])?.id).toBe('elsewhere');
    await locks.refresh();
    expect(locks.lockFor('dave', [])).toBeUndefined();
  });
});
