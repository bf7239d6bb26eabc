// How the SQLite audit log reaches the disk (sqlite-audit.ts): commits with
// their WAL frames written, the WAL synced on the thread pool; `synced`
// appends wait for that sync, `written` ones only for the commit.
import Database from 'better-sqlite3';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from './migrations.ts';
import { openSqliteStorage } from './sqlite.ts';
import { sqliteAudit, WAL_SYNC_DELAY_MS } from './sqlite-audit.ts';
import type { NewAuditEvent } from './storage.ts';

const event = (n: number): NewAuditEvent => ({ time: new Date(Date.UTC(2026, 10, 30, 10, 0, n)).toISOString(), type: 'kube.request', code: 'ZA2000I', success: true, user: 'alice', message: `get pods ${n}`, fields: { cluster: 'prod' } });

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function freshDb(): { db: Database.Database; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-audit-sync-'));
  dirs.push(dir);
  const path = join(dir, 'ztsh.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  migrate(db);
  return { db, path };
}

/** A WAL sync the test lets finish, counting the calls. */
function gatedSync() {
  const calls: Array<() => void> = [];
  const sync = () => new Promise<void>((resolve) => calls.push(resolve));
  return { sync, calls, release: () => calls.splice(0).forEach((r) => r()) };
}

describe('SQLite audit appends and the disk', () => {
  it('a synced append resolves only after a WAL sync that started after its commit', async () => {
    const { db } = freshDb();
    const gate = gatedSync();
    const audit = sqliteAudit(db, gate.sync);
    let done = false;
    const appended = audit.appendMany([event(1), event(2)], 'synced').then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    // Committed (another connection reads it), not yet answered for.
    expect(db.prepare('SELECT count(*) FROM audit_events').pluck().get()).toBe(2);
    expect(gate.calls).toHaveLength(1);
    expect(done).toBe(false);
    gate.release();
    await appended;
    expect(done).toBe(true);
    // The connection is back on FULL for every other table.
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('a written append resolves at its commit; one sync follows within the delay, and covers every commit before it', async () => {
    const { db } = freshDb();
    const gate = gatedSync();
    const audit = sqliteAudit(db, gate.sync);
    await audit.appendMany([event(1)], 'written');
    await audit.appendMany([event(2)], 'written');
    expect(gate.calls).toHaveLength(0);
    await expect.poll(() => gate.calls.length, { timeout: WAL_SYNC_DELAY_MS * 20 }).toBe(1);
    gate.release();
    // A security event after them is synced at once, without waiting out the delay.
    const security = audit.appendMany([event(3)], 'synced');
    await expect.poll(() => gate.calls.length).toBe(1);
    gate.release();
    await security;
    expect(await audit.verify()).toMatchObject({ ok: true, events: 3 });
  });

  it('a failed sync is tried again; the events are chained once, and the append waits until a sync holds', async () => {
    const { db } = freshDb();
    let failures = 1;
    let syncs = 0;
    const audit = sqliteAudit(db, async () => {
      syncs++;
      if (failures-- > 0) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    const [first] = await audit.appendMany([event(1)], 'synced');
    expect(syncs).toBe(2);
    expect(first!.seq).toBe(1);
    expect(await audit.verify()).toMatchObject({ ok: true, events: 1 });
  });

  it('settled() syncs what was only written, so a closing store leaves nothing unsynced', async () => {
    const { db } = freshDb();
    let syncs = 0;
    const audit = sqliteAudit(db, async () => void syncs++);
    await audit.appendMany([event(1)], 'written');
    expect(syncs).toBe(0);
    await audit.settled();
    expect(syncs).toBe(1);
    await audit.settled();
    expect(syncs).toBe(1);
  });

  it('the real store syncs its WAL file and closes after the last sync', async () => {
    const { db, path } = freshDb();
    db.close();
    const storage = openSqliteStorage(path);
    await storage.audit.appendMany([event(1)], 'synced');
    await storage.audit.appendMany([event(2)], 'written');
    await storage.close();
    const again = openSqliteStorage(path);
    expect(await again.audit.verify()).toMatchObject({ ok: true, events: 2 });
    await again.close();
  });

  it('every written append that resolved is still there after the writer is killed with SIGKILL', async () => {
    const { db, path } = freshDb();
    db.close();
    const writer = fork(fileURLToPath(new URL('./audit-crash-writer.fixtures.ts', import.meta.url)), [path], { execArgv: ['--conditions=source', '--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let answered = 0;
    await new Promise<void>((resolve, reject) => {
      writer.on('message', (seq) => {
        answered = Math.max(answered, seq as number);
        // Killed mid-stream, the moment a later append may be half done.
        if (answered >= 300 && !writer.killed) {
          writer.kill('SIGKILL');
          resolve();
        }
      });
      writer.once('exit', (code, signal) => (signal ? undefined : reject(new Error(`the writer exited early (code ${code})`))));
    });
    await new Promise((r) => writer.once('exit', r));
    const storage = openSqliteStorage(path);
    const verdict = await storage.audit.verify();
    expect(verdict).toMatchObject({ ok: true });
    expect((verdict as { lastSeq: number }).lastSeq).toBeGreaterThanOrEqual(answered);
    await storage.close();
  });
});
