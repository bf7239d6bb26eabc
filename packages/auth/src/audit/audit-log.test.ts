import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.ts';
import { openSqliteStorage } from '../storage/sqlite.ts';
import type { NewAuditEvent, Storage } from '../storage/storage.ts';
import { createAuditLog } from './audit-log.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A real store whose audit writes take as long as `delayOf` says: a store across a network answers late, and not in order. */
function slowStore(delayOf: (batch: NewAuditEvent[]) => number): Storage {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-audit-log-'));
  const storage = openSqliteStorage(join(dir, 'ztsh.db'));
  cleanups.push(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const appendMany = storage.audit.appendMany;
  return {
    ...storage,
    audit: {
      ...storage.audit,
      appendMany: async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, delayOf(batch)));
        return appendMany(batch);
      },
    },
  };
}

describe('the audit log over an asynchronous store', () => {
  it('keeps the order events happened in when a slow write is followed by a fast one', async () => {
    // The first write is the slowest: were writes not one after another, the later ones would land first.
    const storage = slowStore((batch) => (batch[0]!.message === 'first' ? 60 : 0));
    const audit = createAuditLog(storage, systemClock);
    const first = audit.emit('user.login', true, { user: 'a', message: 'first' });
    audit.queue('kube.request', true, { user: 'b', message: 'second' });
    const third = audit.emit('user.login', false, { user: 'c', message: 'third' });
    audit.queue('kube.request', true, { user: 'd', message: 'fourth' });
    await audit.flush();

    const stored = await storage.audit.list();
    expect(stored.map((e) => e.message)).toEqual(['first', 'second', 'third', 'fourth']);
    expect((await first).seq).toBe(1);
    expect((await third)).toMatchObject({ seq: 3, message: 'third' });
    expect(await storage.audit.verify()).toMatchObject({ ok: true, events: 4 });
  });

  it('a durable event is stored when emit settles; flush waits for writes already under way', async () => {
    const storage = slowStore(() => 20);
    const audit = createAuditLog(storage, systemClock);
    const emitted = audit.emit('lock.created', true, { user: 'bob' });
    audit.queue('kube.request', true, { user: 'alice' });
    // Queued and in flight both count as not yet written.
    expect(audit.pending).toBe(1 + 1);
    const event = await emitted;
    expect(await storage.audit.list()).toEqual([event]);
    await audit.flush();
    expect(audit.pending).toBe(0);
    expect((await storage.audit.list()).map((e) => e.type)).toEqual(['lock.created', 'kube.request']);
  });

  it('a failed write fails its own caller only; the next write still runs', async () => {
    const storage = slowStore(() => 0);
    const appendMany = storage.audit.appendMany;
    let refuse = true;
    storage.audit.appendMany = async (batch) => {
      if (refuse) throw new Error('the store is away');
      return appendMany(batch);
    };
    const audit = createAuditLog(storage, systemClock);
    await expect(audit.emit('user.login', false, { user: 'a' })).rejects.toThrow('the store is away');
    refuse = false;
    await expect(audit.emit('user.login', true, { user: 'b' })).resolves.toMatchObject({ seq: 1, user: 'b' });
  });

  it('queued events caught in a failed write are kept and written later, in order; a failed durable one is not', async () => {
    const storage = slowStore(() => 0);
    const appendMany = storage.audit.appendMany;
    let refuse = true;
    storage.audit.appendMany = async (batch) => {
      if (refuse) throw new Error('the store is away');
      return appendMany(batch);
    };
    const audit = createAuditLog(storage, systemClock);
    audit.queue('kube.request', true, { user: 'a', message: 'one' });
    audit.queue('kube.request', true, { user: 'a', message: 'two' });
    await expect(audit.emit('cert.issued', true, { user: 'a', message: 'not issued' })).rejects.toThrow('the store is away');
    audit.queue('kube.request', true, { user: 'a', message: 'three' });
    refuse = false;
    await audit.flush();
    expect((await storage.audit.list()).map((e) => e.message)).toEqual(['one', 'two', 'three']);
    expect(await storage.audit.verify()).toMatchObject({ ok: true, events: 3 });
  });

  it('group commit: a queued event is written at once; what comes during a write goes in one write right after it', async () => {
    const storage = slowStore(() => 0);
    const appendMany = storage.audit.appendMany;
    const batches: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    storage.audit.appendMany = async (batch) => {
      batches.push(batch.map((e) => e.message ?? ''));
      // The first write waits for the gate: the events queued meanwhile must wait for it too.
      if (batches.length === 1) await gate;
      return appendMany(batch);
    };
    const audit = createAuditLog(storage, systemClock);
    let firstStored = false;
    const first = audit.queue('kube.request', true, { user: 'a', message: 'one' }).then(() => (firstStored = true));
    // Written without a timer's wait: the write starts in this turn of the event loop.
    await expect.poll(() => batches.length).toBe(1);
    const second = audit.queue('kube.request', true, { user: 'a', message: 'two' });
    const third = audit.queue('kube.request', true, { user: 'a', message: 'three' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([['one']]);
    expect(firstStored).toBe(false);
    release();
    await Promise.all([first, second, third]);
    expect(batches).toEqual([['one'], ['two', 'three']]);
    expect((await storage.audit.list()).map((e) => e.message)).toEqual(['one', 'two', 'three']);
    expect(audit.pending).toBe(0);
  });

  it('a queued event caught in a failed write keeps its caller waiting until a later write stores it', async () => {
    const storage = slowStore(() => 0);
    const appendMany = storage.audit.appendMany;
    let refuse = true;
    let failures = 0;
    storage.audit.appendMany = async (batch) => {
      if (refuse) {
        failures += 1;
        throw new Error('the store is away');
      }
      return appendMany(batch);
    };
    const audit = createAuditLog(storage, systemClock);
    let stored = false;
    const waiting = audit.queue('kube.request', true, { user: 'a', message: 'kept' }).then(() => (stored = true));
    await expect.poll(() => failures).toBe(1);
    // Queued while the retry waits: it joins the retry, not a write of its own.
    const later = audit.queue('kube.request', true, { user: 'a', message: 'later' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toBe(1);
    expect(stored).toBe(false);
    refuse = false;
    await audit.flush();
    await Promise.all([waiting, later]);
    expect((await storage.audit.list()).map((e) => e.message)).toEqual(['kept', 'later']);
  });
});
