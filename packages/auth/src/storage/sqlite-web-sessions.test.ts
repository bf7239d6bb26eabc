import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStorage } from './sqlite.ts';
import type { Storage, WebSessionRecord } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
let storage: Storage;
let dir: string;

function open(): Storage {
  dir = mkdtempSync(join(tmpdir(), 'ztsh-web-sessions-'));
  storage = openSqliteStorage(join(dir, 'ztsh.db'));
  return storage;
}

afterEach(() => {
  storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

const session = (overrides: Partial<WebSessionRecord> = {}): WebSessionRecord => ({
  hash: 'hash-1',
  user: 'carol',
  roles: ['auditor'],
  loginId: 'login-1',
  clientIp: '203.0.113.7',
  createdAt: T0,
  expiresAt: T0 + 4 * 3_600_000,
  ...overrides,
});

describe('web sessions in SQLite', () => {
  it('reads back a session by its hash while it lives, and not after', () => {
    const s = open();
    s.webSessions.insert(session());
    expect(s.webSessions.get('hash-1', T0)).toEqual(session());
    expect(s.webSessions.get('hash-1', T0 + 4 * 3_600_000)).toBeUndefined();
    expect(s.webSessions.get('other', T0)).toBeUndefined();
  });

  it('removes one session (sign-out) and sweeps the expired ones', () => {
    const s = open();
    s.webSessions.insert(session());
    s.webSessions.insert(session({ hash: 'hash-2', expiresAt: T0 + 1000 }));
    s.webSessions.insert(session({ hash: 'hash-3', expiresAt: T0 + 9_000_000 }));
    expect(s.webSessions.remove('hash-1')).toBe(true);
    expect(s.webSessions.remove('hash-1')).toBe(false);
    expect(s.webSessions.deleteExpired(T0 + 2000)).toBe(1);
    expect(s.webSessions.get('hash-2', T0)).toBeUndefined();
    expect(s.webSessions.get('hash-3', T0)).toMatchObject({ user: 'carol' });
  });
});
