import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { lockTargetFromRow, lockTargetRow } from './lock-columns.ts';
import { migrate, MIGRATIONS } from './migrations.ts';
import { sqliteLocks } from './sqlite-sessions.ts';

describe('lock targets in the locks table', () => {
  it('every kind goes in and comes back the same', () => {
    for (const target of [{ user: 'alice' }, { role: 'developer' }, { accessRequest: '0b6c1f5e-0000-4000-8000-000000000000' }]) {
      const [kind, value] = lockTargetRow(target);
      expect(lockTargetFromRow(kind, value)).toEqual(target);
    }
  });

  it('a kind ztshd never writes is an error, not a lock on someone else', () => {
    expect(() => lockTargetFromRow('group', 'x')).toThrow(/not one ztshd knows/);
  });

  it('a SQLite store made before access-request locks keeps its locks and takes the new kind', async () => {
    const db = new Database(':memory:');
    for (const step of MIGRATIONS.slice(0, -1)) db.exec(step);
    db.pragma(`user_version = ${MIGRATIONS.length - 1}`);
    db.prepare("INSERT INTO locks (id, target_kind, target, message, created_by, created_at, expires_at) VALUES ('l1', 'user', 'dave', 'why', 'bob', 1, NULL)").run();
    expect(() => db.prepare("INSERT INTO locks (id, target_kind, target, created_by, created_at) VALUES ('l2', 'access_request', 'r', 'bob', 1)").run()).toThrow(/CHECK/);
    migrate(db);
    const locks = sqliteLocks(db);
    await locks.insert({ id: 'l2', target: { accessRequest: 'r' }, message: null, createdBy: 'alice', createdAt: 2, expiresAt: null });
    expect(await locks.active(3)).toEqual([
      { id: 'l1', target: { user: 'dave' }, message: 'why', createdBy: 'bob', createdAt: 1, expiresAt: null },
      { id: 'l2', target: { accessRequest: 'r' }, message: null, createdBy: 'alice', createdAt: 2, expiresAt: null },
    ]);
    expect(() => db.prepare("INSERT INTO locks (id, target_kind, target, created_by, created_at) VALUES ('l3', 'group', 'r', 'bob', 1)").run()).toThrow(/CHECK/);
    db.close();
  });
});
