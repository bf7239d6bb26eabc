import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '@ztsh/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStorage } from './sqlite.ts';
import { GENESIS_HASH, hashAuditEvent } from './sqlite-audit.ts';
import type { LoginRecord, NewAuditEvent, Storage, TotpDevice, WebauthnDevice } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');

const opened: Storage[] = [];
const dirs: string[] = [];

/** A fresh database file in its own temp dir. */
function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-sqlite-'));
  dirs.push(dir);
  return join(dir, 'ztsh.db');
}

function open(path: string): Storage {
  const storage = openSqliteStorage(path);
  opened.push(storage);
  return storage;
}

afterEach(() => {
  for (const s of opened.splice(0)) {
    try {
      s.close();
    } catch {
      // already closed by the test
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function login(overrides: Partial<LoginRecord> = {}): LoginRecord {
  return {
    id: 'login-1',
    kind: 'browser',
    connector: 'corp',
    publicKey: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n',
    redirect: 'http://127.0.0.1:41234/callback',
    verifierHash: 'verifier-hash',
    ttlMs: 3_600_000,
    client: { name: 'ztsh', hostname: 'laptop', version: '0.1.0' },
    clientIp: '203.0.113.7',
    status: 'started',
    browserHash: 'browser-hash',
    oidcState: 'state-1',
    oidcNonce: 'nonce-1',
    pkceVerifier: 'pkce-1',
    user: 'alice@example.com',
    grant: {
      roles: ['dev'],
      traits: { groups: ['eng'] },
      kubernetesGroups: ['developers'],
      kubernetesUsers: [],
      requireMfa: true,
      maxTtlMs: 28_800_000,
    },
    mfaMethod: 'totp',
    mfaPending: { totpSecret: 'JBSWY3DPEHPK3PXP', challenge: 'c' },
    codeHash: 'code-hash-1',
    codeExpiresAt: T0 + 60_000,
    userCode: 'ABCD-EFGH',
    deviceCodeHash: 'device-code-hash-1',
    lastPollAt: T0,
    error: null,
    createdAt: T0,
    expiresAt: T0 + 600_000,
    ...overrides,
  };
}

function event(n: number, extra: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return {
    time: new Date(T0 + n * 1000).toISOString(),
    type: 'user.login',
    code: 'ZA1000I',
    success: true,
    user: 'alice@example.com',
    loginId: `login-${n}`,
    clientIp: '203.0.113.7',
    message: `event ${n}`,
    fields: { n, connector: 'corp', roles: ['dev', 'viewer'], nested: { b: 1, a: [true, null] } },
    ...extra,
  };
}

function recompute(e: AuditEvent): string {
  const { hash: _hash, ...rest } = e;
  return hashAuditEvent(e.prevHash, rest);
}

/** The seq of the first event whose link or hash does not check out; undefined when the chain is whole. */
function firstBroken(events: AuditEvent[]): number | undefined {
  let prev = GENESIS_HASH;
  for (const e of events) {
    if (e.prevHash !== prev || recompute(e) !== e.hash) return e.seq;
    prev = e.hash;
  }
  return undefined;
}

describe('SQLite storage', () => {
  describe('audit log', () => {
    it('chains each event to the one before, starting from the genesis hash', () => {
      const storage = open(freshPath());
      const appended = [1, 2, 3].map((n) => storage.audit.append(event(n)));
      expect(appended.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(appended[0]!.prevHash).toBe(GENESIS_HASH);
      expect(appended[1]!.prevHash).toBe(appended[0]!.hash);
      expect(appended[2]!.prevHash).toBe(appended[1]!.hash);
      for (const e of appended) {
        expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(recompute(e)).toBe(e.hash);
      }
      expect(new Set(appended.map((e) => e.id)).size).toBe(3);
    });

    it('reads back exactly what it returned, and the chain verifies from storage', () => {
      const storage = open(freshPath());
      const appended = [
        storage.audit.append(event(1)),
        storage.audit.append({ time: new Date(T0).toISOString(), type: 'cert.issued', code: 'ZA1200W', success: false, fields: {} }),
        storage.audit.append(event(3)),
      ];
      const listed = storage.audit.list();
      expect(listed).toEqual(appended);
      expect(listed[1]).not.toHaveProperty('user');
      expect(listed[1]!.success).toBe(false);
      expect(firstBroken(listed)).toBeUndefined();
    });

    it('verifies from storage when fields hold undefined values (dropped by JSON)', () => {
      const storage = open(freshPath());
      storage.audit.append(event(1, { fields: { connector: 'corp', client: undefined, nested: { version: undefined, name: 'ztsh' } } }));
      storage.audit.append(event(2));
      expect(firstBroken(storage.audit.list())).toBeUndefined();
    });

    it('pages with afterSeq and limit', () => {
      const storage = open(freshPath());
      for (let n = 1; n <= 5; n++) storage.audit.append(event(n));
      expect(storage.audit.list({ afterSeq: 2 }).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect(storage.audit.list({ afterSeq: 1, limit: 2 }).map((e) => e.seq)).toEqual([2, 3]);
    });

    it('makes an edited message detectable', () => {
      const path = freshPath();
      const storage = open(path);
      for (let n = 1; n <= 3; n++) storage.audit.append(event(n));
      storage.close();

      const raw = new Database(path);
      expect(raw.prepare("UPDATE audit_events SET message = 'nothing happened' WHERE seq = 2").run().changes).toBe(1);
      raw.close();

      const events = open(path).audit.list();
      expect(events[1]!.message).toBe('nothing happened');
      expect(recompute(events[1]!)).not.toBe(events[1]!.hash);
      expect(firstBroken(events)).toBe(2);
    });

    it('makes edited fields, user or outcome detectable', () => {
      const path = freshPath();
      const storage = open(path);
      for (let n = 1; n <= 4; n++) storage.audit.append(event(n));
      storage.close();

      const raw = new Database(path);
      raw.prepare('UPDATE audit_events SET fields = ? WHERE seq = 1').run(JSON.stringify({ ...event(1).fields, connector: 'other' }));
      raw.prepare("UPDATE audit_events SET user = 'mallory' WHERE seq = 2").run();
      raw.prepare('UPDATE audit_events SET success = 0 WHERE seq = 3').run();
      raw.close();

      const events = open(path).audit.list();
      expect(events.slice(0, 3).map((e) => recompute(e) === e.hash)).toEqual([false, false, false]);
      expect(recompute(events[3]!)).toBe(events[3]!.hash);
    });

    it('makes a deleted event detectable', () => {
      const path = freshPath();
      const storage = open(path);
      for (let n = 1; n <= 3; n++) storage.audit.append(event(n));
      storage.close();

      const raw = new Database(path);
      raw.prepare('DELETE FROM audit_events WHERE seq = 2').run();
      raw.close();

      expect(firstBroken(open(path).audit.list())).toBe(3);
    });

    it('makes a rewritten hash detectable by the next link', () => {
      const path = freshPath();
      const storage = open(path);
      for (let n = 1; n <= 3; n++) storage.audit.append(event(n));
      storage.close();

      // An attacker edits event 2 and recomputes its hash; event 3 still points at the old one.
      const raw = new Database(path);
      const row = open(path).audit.list()[1]!;
      const forged = { ...row, message: 'forged' };
      raw.prepare('UPDATE audit_events SET message = ?, hash = ? WHERE seq = 2').run(forged.message, recompute(forged));
      raw.close();

      expect(firstBroken(open(path).audit.list())).toBe(3);
    });

    it('continues the chain after a reopen', () => {
      const path = freshPath();
      const first = open(path);
      first.audit.append(event(1));
      const second = first.audit.append(event(2));
      first.close();

      const third = open(path).audit.append(event(3));
      expect(third.seq).toBe(3);
      expect(third.prevHash).toBe(second.hash);
    });
  });

  describe('logins', () => {
    it('stores every field and reads it back by each lookup', () => {
      const storage = open(freshPath());
      const record = login();
      storage.logins.insert(record);
      expect(storage.logins.get('login-1')).toEqual(record);
      expect(storage.logins.findByState('state-1')).toEqual(record);
      expect(storage.logins.findByCodeHash('code-hash-1')).toEqual(record);
      expect(storage.logins.findByUserCode('ABCD-EFGH')).toEqual(record);
      expect(storage.logins.findByDeviceCodeHash('device-code-hash-1')).toEqual(record);
      expect(storage.logins.get('nope')).toBeUndefined();
      expect(storage.logins.findByState('nope')).toBeUndefined();
    });

    it('keeps nulls as nulls', () => {
      const storage = open(freshPath());
      const record = login({
        kind: 'device',
        redirect: null,
        ttlMs: null,
        client: null,
        browserHash: null,
        oidcState: null,
        oidcNonce: null,
        pkceVerifier: null,
        user: null,
        grant: null,
        mfaMethod: null,
        mfaPending: null,
        codeHash: null,
        codeExpiresAt: null,
        userCode: null,
        deviceCodeHash: null,
        lastPollAt: null,
        error: 'access_denied',
      });
      storage.logins.insert(record);
      expect(storage.logins.get(record.id)).toEqual(record);
    });

    it('updates only the given fields', () => {
      const storage = open(freshPath());
      storage.logins.insert(login());
      storage.logins.update('login-1', { mfaPending: null, lastPollAt: T0 + 5_000 });
      expect(storage.logins.get('login-1')).toEqual(login({ mfaPending: null, lastPollAt: T0 + 5_000 }));
    });

    it('moves a login out of a status once: a second transition from it fails', () => {
      const storage = open(freshPath());
      storage.logins.insert(login({ status: 'approved' }));
      expect(storage.logins.transition('login-1', 'approved', { status: 'exchanged', codeHash: null })).toBe(true);
      expect(storage.logins.transition('login-1', 'approved', { status: 'exchanged', error: 'replayed' })).toBe(false);
      const after = storage.logins.get('login-1')!;
      expect(after.status).toBe('exchanged');
      expect(after.codeHash).toBeNull();
      expect(after.error).toBeNull();
    });

    it('refuses a transition from a status the login is not in, and for an unknown login', () => {
      const storage = open(freshPath());
      storage.logins.insert(login({ status: 'started' }));
      expect(storage.logins.transition('login-1', 'mfa', { status: 'approved' })).toBe(false);
      expect(storage.logins.get('login-1')!.status).toBe('started');
      expect(storage.logins.transition('missing', 'started', { status: 'idp' })).toBe(false);
    });

    it('refuses a second login with the same state or code hash', () => {
      const storage = open(freshPath());
      storage.logins.insert(login());
      expect(() => storage.logins.insert(login({ id: 'login-2', codeHash: 'other', userCode: 'X', deviceCodeHash: 'Y' }))).toThrow(/UNIQUE/);
    });

    it('deletes logins that expired before a time', () => {
      const storage = open(freshPath());
      storage.logins.insert(login({ id: 'old', oidcState: 's1', codeHash: null, userCode: null, deviceCodeHash: null, expiresAt: T0 }));
      storage.logins.insert(login({ id: 'new', oidcState: 's2', codeHash: null, userCode: null, deviceCodeHash: null, expiresAt: T0 + 10_000 }));
      expect(storage.logins.deleteExpired(T0 + 1)).toBe(1);
      expect(storage.logins.get('old')).toBeUndefined();
      expect(storage.logins.get('new')).toBeDefined();
    });
  });

  describe('MFA', () => {
    const totp: TotpDevice = {
      id: 'dev-totp',
      user: 'alice',
      kind: 'totp',
      name: 'authenticator app',
      secret: 'JBSWY3DPEHPK3PXP',
      lastTimeStep: 100,
      createdAt: T0,
    };
    const key: WebauthnDevice = {
      id: 'dev-key',
      user: 'alice',
      kind: 'webauthn',
      name: 'security key',
      credentialId: 'cred-1',
      publicKey: new Uint8Array([1, 2, 3, 250]),
      counter: 7,
      transports: ['usb', 'nfc'],
      createdAt: T0 + 1,
    };

    it('lists a user’s devices in enrollment order', () => {
      const storage = open(freshPath());
      storage.mfa.add(key);
      storage.mfa.add(totp);
      storage.mfa.add({ ...totp, id: 'bob-totp', user: 'bob' });
      expect(storage.mfa.list('alice')).toEqual([totp, key]);
      expect(storage.mfa.list('carol')).toEqual([]);
    });

    it('records a TOTP step only when it is newer than the last one', () => {
      const storage = open(freshPath());
      storage.mfa.add(totp);
      expect(storage.mfa.advanceTotpStep('dev-totp', 99)).toBe(false);
      expect(storage.mfa.advanceTotpStep('dev-totp', 100)).toBe(false);
      expect(storage.mfa.advanceTotpStep('dev-totp', 101)).toBe(true);
      expect(storage.mfa.advanceTotpStep('dev-totp', 101)).toBe(false);
      expect(storage.mfa.list('alice')[0]).toMatchObject({ lastTimeStep: 101 });
      expect(storage.mfa.advanceTotpStep('missing', 500)).toBe(false);
    });

    it('stores the WebAuthn signature counter', () => {
      const storage = open(freshPath());
      storage.mfa.add(key);
      storage.mfa.setWebauthnCounter('dev-key', 8);
      expect(storage.mfa.list('alice')).toEqual([{ ...key, counter: 8 }]);
    });

    it('round-trips failure counts, with none on record as zero', () => {
      const storage = open(freshPath());
      expect(storage.mfa.failures('alice')).toEqual({ failures: 0, lockedUntil: 0 });
      storage.mfa.setFailures('alice', { failures: 5, lockedUntil: T0 + 60_000 });
      expect(storage.mfa.failures('alice')).toEqual({ failures: 5, lockedUntil: T0 + 60_000 });
      storage.mfa.setFailures('alice', { failures: 0, lockedUntil: 0 });
      expect(storage.mfa.failures('alice')).toEqual({ failures: 0, lockedUntil: 0 });
      expect(storage.mfa.failures('bob')).toEqual({ failures: 0, lockedUntil: 0 });
    });
  });

  describe('on disk', () => {
    it('uses a WAL journal and keeps everything across close and reopen', () => {
      const path = freshPath();
      const first = open(path);
      first.logins.insert(login());
      first.mfa.add({ id: 'd', user: 'alice', kind: 'totp', name: 'app', secret: 'S', lastTimeStep: 1, createdAt: T0 });
      first.mfa.setFailures('alice', { failures: 2, lockedUntil: 0 });
      first.users.upsertLogin('alice', T0, { groups: ['eng'] });
      const appended = first.audit.append(event(1));
      expect(existsSync(`${path}-wal`)).toBe(true);
      first.close();

      const raw = new Database(path, { readonly: true });
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT name, last_login_at, traits FROM users').all()).toEqual([
        { name: 'alice', last_login_at: T0, traits: '{"groups":["eng"]}' },
      ]);
      raw.close();

      const second = open(path);
      expect(second.logins.get('login-1')).toEqual(login());
      expect(second.mfa.list('alice')).toHaveLength(1);
      expect(second.mfa.failures('alice')).toEqual({ failures: 2, lockedUntil: 0 });
      expect(second.audit.list()).toEqual([appended]);
    });

    it('updates a returning user’s last login and traits', () => {
      const path = freshPath();
      const storage = open(path);
      storage.users.upsertLogin('alice', T0, { groups: ['eng'] });
      storage.users.upsertLogin('alice', T0 + 1000, { groups: ['ops'] });
      storage.close();
      const raw = new Database(path, { readonly: true });
      expect(raw.prepare('SELECT name, created_at, last_login_at, traits FROM users').all()).toEqual([
        { name: 'alice', created_at: T0, last_login_at: T0 + 1000, traits: '{"groups":["ops"]}' },
      ]);
      raw.close();
    });
  });
});
