// Holes found in a review of the auth side, each pinned here:
//
// 1. A NUL in `q` of /v1/audit/events or /v1/recordings reaches FTS5 inside
//    the quoted phrase; FTS5 stops reading at the NUL, sees an unterminated
//    string and throws: 500, not 400.
// 2. A `ttl` of /v1/login/start or /v1/login/device too large for a safe
//    integer makes parseDuration throw a plain Error: 500, not 400.
// 3. An auditor's open `/v1/audit/export?follow=true` goes on streaming
//    every new audit event after a lock on that auditor (and outlived the
//    certificate or web session it was opened with): the lock refused the
//    next request but did not end the request in flight.
// 4. A proxy (any holder of one proxy host certificate) can register a
//    session of its own whose recordingPath is another proxy's recording,
//    then upload over it: the auditor replays the forged content.
// 5. A WebAuthn registration whose credential id is already registered (to
//    another user) hits the UNIQUE constraint in mfa_devices: 500.
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createJoinToken, type SessionRecord } from '@ztsh/auth';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK, newLoginKeys, throughIdp } from '../helpers/http-login.ts';
import { EXTRA_USERS, startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, openTls, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

/** A second developer with no second factor yet, beside erin. */
const FRANK = { username: 'frank', password: 'frank-dev-password', groups: ['developers'] };

let stack: TestStack;
let carol: Credentials;

beforeAll(async () => {
  stack = await startTestStack({ users: [...DEV_USERS, EXTRA_USERS.erin, FRANK] });
  carol = await credentialsOf(target(), 'carol');
});
afterAll(() => stack?.close());

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

const json = { 'Content-Type': 'application/json' };

describe('finding 1: a NUL in the full-text query answers 500', () => {
  it('finding 1: q=%00 on /v1/audit/events and /v1/recordings is a 400 (or no match), never a 500', async () => {
    for (const path of ['/v1/audit/events?q=%00', '/v1/audit/events?q=rm%00%22%20OR%20%22x', '/v1/recordings?q=a%00b']) {
      const res = await rawRequest(target(), { path, as: carol });
      expect(res.status, `${path}: ${res.body}`).toBeLessThan(500);
    }
  });
});

describe('finding 2: an oversized ttl at login start answers 500', () => {
  it('finding 2: ttl "99999999999999999999h" on /v1/login/start and /v1/login/device is a 400, not a 500', async () => {
    const keys = newLoginKeys();
    for (const path of ['/v1/login/start', '/v1/login/device']) {
      const body = { publicKey: keys.publicKey, verifierHash: keys.verifierHash, ttl: '99999999999999999999h', ...(path.endsWith('start') ? { redirect: CALLBACK } : {}) };
      const res = await rawRequest(target(), { method: 'POST', path, headers: json, body: JSON.stringify(body) });
      expect(res.status, `${path}: ${res.body}`).toBe(400);
    }
  });
});

describe('finding 3: a lock does not end an auditor\'s live audit export', () => {
  it('finding 3: after a lock on carol, her open export?follow=true stops receiving events', async () => {
    const after = (await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).at(-1)!.seq;
    const socket = await openTls(target(), carol);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.write(`GET /v1/audit/export?follow=true&after=${after} HTTP/1.1\r\nHost: ${stack.url.host}\r\n\r\n`);
    const locks = stack.ztshd.auth.deps.locks;
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(received).toMatch(/^HTTP\/1\.1 200/);
      await locks.add({ target: { user: 'carol' }, createdBy: 'bob', message: 'incident 42: laptop stolen' });
      // The lock is in force: her next request is refused at once.
      expect((await rawRequest(target(), { path: '/v1/audit/events', as: carol })).status).toBe(403);
      // Something happens after the lock: the stream she opened before should not show it.
      await stack.ztshd.auth.deps.audit.emit('user.login', false, { user: 'alice', message: 'written-after-the-lock-on-carol', fields: {} });
      await new Promise((r) => setTimeout(r, 1_500));
      expect(received.includes('written-after-the-lock-on-carol'), 'the locked auditor still reads the live audit log').toBe(false);
    } finally {
      socket.destroy();
      for (const lock of locks.list()) await locks.remove(lock.id, 'bob');
    }
  });
});

describe('finding 4: one proxy overwrites another proxy\'s recording', () => {
  it('finding 4: a session naming another session\'s recordingPath cannot upload over that recording', async () => {
    // A proxy joins as proxies do (a proxy join token from the operator).
    const { token } = await createJoinToken(stack.ztshd.auth.deps, { type: 'proxy', ttlMs: 600_000, uses: 1 });
    const keys = newLoginKeys();
    const joined = await rawRequest(target(), { method: 'POST', path: '/v1/join', headers: json, body: JSON.stringify({ token, role: 'proxy', publicKey: keys.publicKey }) });
    expect(joined.status).toBe(200);
    const rogue: Credentials = { cert: joined.json().certificate, key: keys.privateKey };

    // Another proxy's recorded exec session, with its recording on disk.
    const base: Omit<SessionRecord, 'id' | 'recordingPath'> = {
      kind: 'exec', user: 'alice', roles: ['developer'], cluster: 'sandbox', namespace: 'default', pod: 'web-0', container: null, command: ['sh'], tty: true,
      kubernetesUser: 'alice', kubernetesGroups: [], clientIp: '10.0.0.7', startedAt: Date.now(), endedAt: Date.now(), exitCode: 0, endReason: 'exit',
      bytesIn: 10, bytesOut: 20, recordingSize: 41,
    };
    const victimId = randomUUID();
    const victimPath = `2026-01-01/${victimId}.cast`;
    const original = '{"version":2,"width":80,"height":24}\n[0.1,"i","rm -rf /data\\r"]\n';
    mkdirSync(join(stack.ztshd.auth.recordingsDir, '2026-01-01'), { recursive: true });
    writeFileSync(join(stack.ztshd.auth.recordingsDir, victimPath), original);
    await stack.ztshd.auth.storage.sessions.insert({ ...base, id: victimId, recordingPath: victimPath }, 'proxy.other-host');

    // The rogue proxy's own session points at that file; then it "hands over" its recording.
    const mine = randomUUID();
    const created = await rawRequest(target(), { method: 'POST', path: '/v1/internal/sessions', as: rogue, headers: json, body: JSON.stringify({ ...base, id: mine, recordingPath: victimPath }) });
    const put = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording`, as: rogue, body: '{"version":2,"width":80,"height":24}\n[0.1,"i","ls\\r"]\n' });
    const cast = await rawRequest(target(), { path: `/v1/recordings/${victimId}/cast`, as: carol });
    expect(cast.status).toBe(200);
    expect(cast.body, `session create ${created.status}, upload ${put.status}: the other proxy's recording was replaced`).toBe(original);
  });
});

// A minimal CBOR encoder (ints, byte and text strings, maps) for a "none" attestation.
function cbor(v: unknown): Buffer {
  const head = (major: number, n: number) =>
    n < 24 ? Buffer.of((major << 5) | n) : n < 256 ? Buffer.of((major << 5) | 24, n) : Buffer.of((major << 5) | 25, n >> 8, n & 0xff);
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

/** What a security key answers to a registration: a new P-256 key under a credential id of our choosing. */
function softRegistration(challenge: string, credentialId: Buffer) {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
  const idLen = Buffer.alloc(2);
  idLen.writeUInt16BE(credentialId.length);
  const rpIdHash = createHash('sha256').update(stack.url.hostname).digest();
  const authData = Buffer.concat([rpIdHash, Buffer.of(0x45), Buffer.alloc(4), Buffer.alloc(16), idLen, credentialId, cose]);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge, origin: stack.url.origin, crossOrigin: false }));
  const id = credentialId.toString('base64url');
  return {
    id,
    rawId: id,
    type: 'public-key',
    clientExtensionResults: {},
    response: { clientDataJSON: clientDataJSON.toString('base64url'), attestationObject: cbor({ fmt: 'none', attStmt: {}, authData }).toString('base64url'), transports: ['usb'] },
  };
}

describe('finding 5: a WebAuthn credential id registered twice answers 500', () => {
  it('finding 5: frank registering a key whose credential id erin already registered is refused with a 4xx, not a 500', async () => {
    const credentialId = Buffer.from('one-credential-id-for-two-users');
    const statuses: number[] = [];
    for (const user of [EXTRA_USERS.erin, FRANK]) {
      const step = await throughIdp(stack.url, stack.tlsCa, user);
      try {
        const headers = { Cookie: step.forms.cookieHeader(stack.url), ...json, Accept: 'application/json' };
        const options = await rawRequest(target(), { method: 'POST', path: `/login/${step.loginId}/mfa/webauthn/options`, headers, body: JSON.stringify({ mode: 'register' }) });
        expect(options.status).toBe(200);
        const response = softRegistration(options.json().challenge, credentialId);
        const verify = await rawRequest(target(), { method: 'POST', path: `/login/${step.loginId}/mfa/webauthn/verify`, headers, body: JSON.stringify({ mode: 'register', response }) });
        statuses.push(verify.status);
      } finally {
        await step.forms.close();
        await step.api.close();
      }
    }
    expect(statuses[0], 'erin registers her key').toBe(200);
    expect(statuses[1], 'the second registration of the same credential id').toBeLessThan(500);
  });
});
