import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '@ztsh/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { afterFailure } from '../mfa/backoff.ts';
import { GENESIS_HASH, hashAuditEvent } from './audit-chain.ts';
import { openSqliteStorage } from './sqlite.ts';
import { ENGINES } from './storage-engines.fixtures.ts';
import type { LoginRecord, NewAuditEvent, Storage, TotpDevice, WebauthnDevice } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');

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
    sessionMfa: null,
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

describe.each(ENGINES)('storage ($name)', (engine) => {
  describe('audit log', () => {
    it('chains each event to the one before, starting from the genesis hash', async () => {
      const storage = await (await engine.fresh()).open();
      const appended: AuditEvent[] = [];
      for (const n of [1, 2, 3]) appended.push(await storage.audit.append(event(n)));
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

    it('reads back exactly what it returned, and the chain verifies from storage', async () => {
      const storage = await (await engine.fresh()).open();
      const appended = [
        await storage.audit.append(event(1)),
        await storage.audit.append({ time: new Date(T0).toISOString(), type: 'cert.issued', code: 'ZA1200W', success: false, fields: {} }),
        await storage.audit.append(event(3)),
      ];
      const listed = await storage.audit.list();
      expect(listed).toEqual(appended);
      expect(listed[1]).not.toHaveProperty('user');
      expect(listed[1]!.success).toBe(false);
      expect(firstBroken(listed)).toBeUndefined();
    });

    it('verifies from storage when fields hold undefined values (dropped by JSON)', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.audit.append(event(1, { fields: { connector: 'corp', client: undefined, nested: { version: undefined, name: 'ztsh' } } }));
      await storage.audit.append(event(2));
      expect(firstBroken(await storage.audit.list())).toBeUndefined();
    });

    it('keeps every character of an event: NUL, lone surrogates, quotes and backslashes', async () => {
      const storage = await (await engine.fresh()).open();
      const odd = "a\u0000b \ud800 ' \" \\ % _ \u{1F600}";
      const appended = await storage.audit.append(event(1, { message: odd, user: odd, fields: { path: odd, cluster: odd } }));
      const [listed] = await storage.audit.list();
      expect(listed).toEqual(appended);
      // A lone surrogate cannot be stored as UTF-8 text: it is hashed as the U+FFFD it is stored as.
      expect(listed!.message).toBe(odd.replace('\ud800', '\ufffd'));
      expect(listed!.fields.path).toBe(odd);
      expect(recompute(listed!)).toBe(listed!.hash);
      expect(await storage.audit.verify()).toMatchObject({ ok: true, events: 1 });
    });

    it('pages with afterSeq and limit', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.audit.appendMany([1, 2, 3, 4, 5].map((n) => event(n)));
      expect((await storage.audit.list({ afterSeq: 2 })).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect((await storage.audit.list({ afterSeq: 1, limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
    });

    it('makes an edited message detectable', async () => {
      const store = await engine.fresh();
      const storage = await store.open();
      for (let n = 1; n <= 3; n++) await storage.audit.append(event(n));
      await store.tamper.editEvent(2, { message: 'nothing happened' });

      const events = await storage.audit.list();
      expect(events[1]!.message).toBe('nothing happened');
      expect(recompute(events[1]!)).not.toBe(events[1]!.hash);
      expect(firstBroken(events)).toBe(2);
    });

    it('makes edited fields, user or outcome detectable', async () => {
      const store = await engine.fresh();
      const storage = await store.open();
      for (let n = 1; n <= 4; n++) await storage.audit.append(event(n));
      await store.tamper.editEvent(1, { fields: { ...event(1).fields, connector: 'other' } });
      await store.tamper.editEvent(2, { user: 'mallory' });
      await store.tamper.editEvent(3, { success: false });

      const events = await storage.audit.list();
      expect(events.slice(0, 3).map((e) => recompute(e) === e.hash)).toEqual([false, false, false]);
      expect(recompute(events[3]!)).toBe(events[3]!.hash);
    });

    it('makes a deleted event detectable', async () => {
      const store = await engine.fresh();
      const storage = await store.open();
      for (let n = 1; n <= 3; n++) await storage.audit.append(event(n));
      await store.tamper.deleteEvent(2);
      expect(firstBroken(await storage.audit.list())).toBe(3);
    });

    it('makes a rewritten hash detectable by the next link', async () => {
      const store = await engine.fresh();
      const storage = await store.open();
      for (let n = 1; n <= 3; n++) await storage.audit.append(event(n));

      // An attacker edits event 2 and recomputes its hash; event 3 still points at the old one.
      const row = (await storage.audit.list())[1]!;
      const forged = { ...row, message: 'forged' };
      await store.tamper.editEvent(2, { message: forged.message });
      await store.tamper.setHash(2, recompute(forged));

      expect(firstBroken(await storage.audit.list())).toBe(3);
    });

    it('continues the chain after a reopen', async () => {
      const store = await engine.fresh();
      const first = await store.open();
      await first.audit.append(event(1));
      const second = await first.audit.append(event(2));
      await first.close();

      const third = await (await store.open()).audit.append(event(3));
      expect(third.seq).toBe(3);
      expect(third.prevHash).toBe(second.hash);
    });
  });

  describe('logins', () => {
    it('stores every field and reads it back by each lookup', async () => {
      const storage = await (await engine.fresh()).open();
      const record = login();
      await storage.logins.insert(record);
      expect(await storage.logins.get('login-1')).toEqual(record);
      expect(await storage.logins.findByState('state-1')).toEqual(record);
      expect(await storage.logins.findByCodeHash('code-hash-1')).toEqual(record);
      expect(await storage.logins.findByUserCode('ABCD-EFGH')).toEqual(record);
      expect(await storage.logins.findByDeviceCodeHash('device-code-hash-1')).toEqual(record);
      expect(await storage.logins.get('nope')).toBeUndefined();
      expect(await storage.logins.findByState('nope')).toBeUndefined();
    });

    it('keeps nulls as nulls', async () => {
      const storage = await (await engine.fresh()).open();
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
      await storage.logins.insert(record);
      expect(await storage.logins.get(record.id)).toEqual(record);
    });

    it('keeps a session MFA check\'s bindings (JSON) through insert, update and a reopen', async () => {
      const store = await engine.fresh();
      const storage = await store.open();
      const sessionMfa = { clusters: ['prod-a', 'prod-b'], certSerial: '0a1b2c', certNotAfter: T0 + 3_600_000 };
      const record = login({ kind: 'session_mfa', status: 'mfa', user: 'alice', oidcState: null, userCode: null, deviceCodeHash: null, sessionMfa });
      await storage.logins.insert(record);
      expect(await storage.logins.get(record.id)).toEqual(record);
      await storage.logins.update(record.id, { sessionMfa: { ...sessionMfa, deviceId: 'dev-1' } });
      expect((await (await store.open()).logins.get(record.id))!.sessionMfa).toEqual({ ...sessionMfa, deviceId: 'dev-1' });
      expect((await storage.logins.get(record.id))!.kind).toBe('session_mfa');
    });

    it('updates only the given fields', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.logins.insert(login());
      await storage.logins.update('login-1', { mfaPending: null, lastPollAt: T0 + 5_000 });
      expect(await storage.logins.get('login-1')).toEqual(login({ mfaPending: null, lastPollAt: T0 + 5_000 }));
    });

    it('moves a login out of a status once: a second transition from it fails', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.logins.insert(login({ status: 'approved' }));
      expect(await storage.logins.transition('login-1', 'approved', { status: 'exchanged', codeHash: null })).toBe(true);
      expect(await storage.logins.transition('login-1', 'approved', { status: 'exchanged', error: 'replayed' })).toBe(false);
      const after = (await storage.logins.get('login-1'))!;
      expect(after.status).toBe('exchanged');
      expect(after.codeHash).toBeNull();
      expect(after.error).toBeNull();
    });

    it('lets one of several concurrent transitions from a status win (two replicas, one code)', async () => {
      const store = await engine.fresh();
      const replicas = [await store.open(), await store.open(), await store.open()];
      await replicas[0]!.logins.insert(login({ status: 'approved' }));
      const won = await Promise.all(replicas.map((r, i) => r.logins.transition('login-1', 'approved', { status: 'exchanged', error: `by ${i}` })));
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it('refuses a transition from a status the login is not in, and for an unknown login', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.logins.insert(login({ status: 'started' }));
      expect(await storage.logins.transition('login-1', 'mfa', { status: 'approved' })).toBe(false);
      expect((await storage.logins.get('login-1'))!.status).toBe('started');
      expect(await storage.logins.transition('missing', 'started', { status: 'idp' })).toBe(false);
    });

    it('refuses a second login with the same state or code hash', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.logins.insert(login());
      await expect((async () => storage.logins.insert(login({ id: 'login-2', codeHash: 'other', userCode: 'X', deviceCodeHash: 'Y' })))()).rejects.toThrow(
        /UNIQUE|unique/,
      );
    });

    it('deletes logins that expired before a time', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.logins.insert(login({ id: 'old', oidcState: 's1', codeHash: null, userCode: null, deviceCodeHash: null, expiresAt: T0 }));
      await storage.logins.insert(login({ id: 'new', oidcState: 's2', codeHash: null, userCode: null, deviceCodeHash: null, expiresAt: T0 + 10_000 }));
      expect(await storage.logins.deleteExpired(T0 + 1)).toBe(1);
      expect(await storage.logins.get('old')).toBeUndefined();
      expect(await storage.logins.get('new')).toBeDefined();
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

    it('lists a user’s devices in enrollment order', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.mfa.add(key);
      await storage.mfa.add(totp);
      await storage.mfa.add({ ...totp, id: 'bob-totp', user: 'bob' });
      expect(await storage.mfa.list('alice')).toEqual([totp, key]);
      expect(await storage.mfa.list('carol')).toEqual([]);
      expect(await storage.mfa.credentialRegistered('cred-1')).toBe(true);
      expect(await storage.mfa.credentialRegistered('cred-2')).toBe(false);
    });

    it('records a TOTP step only when it is newer than the last one', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.mfa.add(totp);
      expect(await storage.mfa.advanceTotpStep('dev-totp', 99)).toBe(false);
      expect(await storage.mfa.advanceTotpStep('dev-totp', 100)).toBe(false);
      expect(await storage.mfa.advanceTotpStep('dev-totp', 101)).toBe(true);
      expect(await storage.mfa.advanceTotpStep('dev-totp', 101)).toBe(false);
      expect((await storage.mfa.list('alice'))[0]).toMatchObject({ lastTimeStep: 101 });
      expect(await storage.mfa.advanceTotpStep('missing', 500)).toBe(false);
    });

    it('stores the WebAuthn signature counter', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.mfa.add(key);
      await storage.mfa.setWebauthnCounter('dev-key', 8);
      expect(await storage.mfa.list('alice')).toEqual([{ ...key, counter: 8 }]);
    });

    it('round-trips failure counts, with none on record as zero', async () => {
      const storage = await (await engine.fresh()).open();
      expect(await storage.mfa.failures('alice')).toEqual({ failures: 0, lockedUntil: 0 });
      await storage.mfa.setFailures('alice', { failures: 5, lockedUntil: T0 + 60_000 });
      expect(await storage.mfa.failures('alice')).toEqual({ failures: 5, lockedUntil: T0 + 60_000 });
      await storage.mfa.setFailures('alice', { failures: 0, lockedUntil: 0 });
      expect(await storage.mfa.failures('alice')).toEqual({ failures: 0, lockedUntil: 0 });
      expect(await storage.mfa.failures('bob')).toEqual({ failures: 0, lockedUntil: 0 });
    });

    it('counts every one of 20 wrong codes sent at once to two replicas (no count lost to a race)', async () => {
      const store = await engine.fresh();
      const replicas = [await store.open(), await store.open()];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => replicas[i % 2]!.mfa.recordFailure('alice', (current) => afterFailure(current, T0))),
      );
      // Each failure saw the one before it: the counts handed back are 1 to 20, once each.
      expect(results.map((r) => r.failures).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      let sequential = { failures: 0, lockedUntil: 0 };
      for (let i = 0; i < 20; i++) sequential = afterFailure(sequential, T0);
      expect(await replicas[0]!.mfa.failures('alice')).toEqual(sequential);
      expect(await replicas[1]!.mfa.failures('alice')).toEqual(sequential);
      expect(await replicas[0]!.mfa.failures('bob')).toEqual({ failures: 0, lockedUntil: 0 });
      // A success resets it; the next failure counts from there.
      await replicas[1]!.mfa.setFailures('alice', { failures: 0, lockedUntil: 0 });
      expect(await replicas[0]!.mfa.recordFailure('alice', (current) => afterFailure(current, T0))).toEqual({ failures: 1, lockedUntil: 0 });
    });
  });

  describe('join tokens', () => {
    const token = { id: 'tok-1', hash: 'h1', type: 'agent' as const, cluster: 'prod', usesLeft: 1, createdAt: T0, expiresAt: T0 + 60_000 };

    it('spends a one-use token once, and says why a token is refused', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.joinTokens.insert(token);
      await storage.joinTokens.insert({ ...token, id: 'tok-2', hash: 'h2', type: 'proxy', cluster: '', usesLeft: null, createdAt: T0 + 1 });
      expect(await storage.joinTokens.redeem('nope', 'agent', 'prod', T0)).toBe('unknown');
      expect(await storage.joinTokens.redeem('h1', 'proxy', 'prod', T0)).toBe('wrong_type');
      expect(await storage.joinTokens.redeem('h1', 'agent', 'staging', T0)).toBe('wrong_cluster');
      expect(await storage.joinTokens.redeem('h1', 'agent', 'prod', T0 + 60_000)).toBe('expired');
      expect(await storage.joinTokens.redeem('h1', 'agent', 'prod', T0)).toEqual(token);
      expect(await storage.joinTokens.redeem('h1', 'agent', 'prod', T0)).toBe('used');
      expect(await storage.joinTokens.redeem('h2', 'proxy', '', T0)).toMatchObject({ id: 'tok-2', usesLeft: null });
      expect(await storage.joinTokens.redeem('h2', 'proxy', '', T0)).toMatchObject({ id: 'tok-2' });
      expect((await storage.joinTokens.list()).map((t) => [t.id, t.usesLeft])).toEqual([
        ['tok-1', 0],
        ['tok-2', null],
      ]);
      expect(await storage.joinTokens.remove('tok-1')).toBe(true);
      expect(await storage.joinTokens.remove('tok-1')).toBe(false);
    });

    it('spends the last use once however many callers race for it', async () => {
      const store = await engine.fresh();
      const replicas = [await store.open(), await store.open(), await store.open()];
      await replicas[0]!.joinTokens.insert({ ...token, usesLeft: 2 });
      const results = await Promise.all([...replicas, ...replicas].map((r) => r.joinTokens.redeem('h1', 'agent', 'prod', T0)));
      expect(results.filter((r) => typeof r === 'object')).toHaveLength(2);
      expect(results.filter((r) => r === 'used')).toHaveLength(4);
    });
  });

  describe('replicas', () => {
    it('upserts heartbeats, lists the live ones, and removes', async () => {
      const storage = await (await engine.fresh()).open();
      await storage.replicas.heartbeat({ id: 'b', addr: '10.0.0.2:3080', startedAt: T0 + 1, heartbeatAt: T0 + 1 });
      await storage.replicas.heartbeat({ id: 'a', addr: null, startedAt: T0, heartbeatAt: T0 });
      await storage.replicas.heartbeat({ id: 'a', addr: null, startedAt: T0, heartbeatAt: T0 + 5_000 });
      expect(await storage.replicas.live(T0)).toEqual([
        { id: 'a', addr: null, startedAt: T0, heartbeatAt: T0 + 5_000 },
        { id: 'b', addr: '10.0.0.2:3080', startedAt: T0 + 1, heartbeatAt: T0 + 1 },
      ]);
      expect((await storage.replicas.live(T0 + 2)).map((r) => r.id)).toEqual(['a']);
      await storage.replicas.remove('a');
      expect((await storage.replicas.live(0)).map((r) => r.id)).toEqual(['b']);
    });
  });

  describe('change feed', () => {
    it('tells this process’s subscribers, until they unsubscribe', async () => {
      const storage = await (await engine.fresh()).open();
      const heard: string[] = [];
      const unsubscribe = storage.changes.subscribe((topic) => heard.push(topic));
      const next = new Promise<void>((resolve) => {
        const stop = storage.changes.subscribe((topic) => topic === 'roles' && (stop(), resolve()));
      });
      await storage.changes.publish('locks');
      await storage.changes.publish('roles');
      await next;
      expect(heard).toEqual(['locks', 'roles']);
      unsubscribe();
      const after = new Promise<void>((resolve) => {
        const stop = storage.changes.subscribe(() => (stop(), resolve()));
      });
      await storage.changes.publish('join_tokens');
      await after;
      expect(heard).toEqual(['locks', 'roles']);
    });
  });
});

describe('SQLite on disk', () => {
  const dirs: string[] = [];
  const opened: Storage[] = [];
  const freshPath = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-sqlite-'));
    dirs.push(dir);
    return join(dir, 'ztsh.db');
  };
  const open = (path: string) => {
    const storage = openSqliteStorage(path);
    opened.push(storage);
    return storage;
  };
  afterEach(async () => {
    for (const s of opened.splice(0)) await Promise.resolve(s.close()).catch(() => {});
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('uses a WAL journal and keeps everything across close and reopen', async () => {
    const path = freshPath();
    const first = open(path);
    await first.logins.insert(login());
    await first.mfa.add({ id: 'd', user: 'alice', kind: 'totp', name: 'app', secret: 'S', lastTimeStep: 1, createdAt: T0 });
    await first.mfa.setFailures('alice', { failures: 2, lockedUntil: 0 });
    await first.users.upsertLogin('alice', T0, { groups: ['eng'] });
    const appended = await first.audit.append(event(1));
    expect(existsSync(`${path}-wal`)).toBe(true);
    await first.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare('SELECT name, last_login_at, traits FROM users').all()).toEqual([
      { name: 'alice', last_login_at: T0, traits: '{"groups":["eng"]}' },
    ]);
    raw.close();

    const second = open(path);
    expect(await second.logins.get('login-1')).toEqual(login());
    expect(await second.mfa.list('alice')).toHaveLength(1);
    expect(await second.mfa.failures('alice')).toEqual({ failures: 2, lockedUntil: 0 });
    expect(await second.audit.list()).toEqual([appended]);
  });

  it('updates a returning user’s last login and traits', async () => {
    const path = freshPath();
    const storage = open(path);
    await storage.users.upsertLogin('alice', T0, { groups: ['eng'] });
    await storage.users.upsertLogin('alice', T0 + 1000, { groups: ['ops'] });
    await storage.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT name, created_at, last_login_at, traits FROM users').all()).toEqual([
      { name: 'alice', created_at: T0, last_login_at: T0 + 1000, traits: '{"groups":["ops"]}' },
    ]);
    raw.close();
  });
});
