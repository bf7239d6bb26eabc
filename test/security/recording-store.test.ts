// Recordings kept in the store (several replicas): a proxy appends chunks of
// its sessions' recordings through PUT /v1/internal/sessions/:id/recording/:seq,
// and auditors read them back through /v1/recordings/:id/cast. Neither may
// reach another session's recording: not with another session's id, not with
// dot segments, escapes or case in the id, not with a chunk number that is
// not a plain number, not with a chunk that is too large, not after the
// session ended, and not as anyone but the proxy that relays the session.
//
// The stack runs on the embedded engine with a store for recordings in
// memory (the contract of storage.recordings: chunks by session and seq,
// each seq kept once); the PostgreSQL engine's own tests cover its table.
import { randomUUID } from 'node:crypto';
import { createJoinToken, type RecordingStore, type SessionRecord } from '@ztsh/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLoginKeys } from '../helpers/http-login.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

class MemoryRecordingStore implements RecordingStore {
  readonly chunks = new Map<string, Map<number, Buffer>>();
  async append(sessionId: string, seq: number, data: Uint8Array): Promise<void> {
    const chunks = this.chunks.get(sessionId) ?? new Map<number, Buffer>();
    this.chunks.set(sessionId, chunks);
    if (!chunks.has(seq)) chunks.set(seq, Buffer.from(data));
  }
  async read(sessionId: string): Promise<Uint8Array | undefined> {
    const chunks = this.chunks.get(sessionId);
    if (!chunks) return undefined;
    return Buffer.concat([...chunks.entries()].sort(([a], [b]) => a - b).map(([, d]) => d));
  }
  async size(sessionId: string): Promise<number> {
    return (await this.read(sessionId))?.length ?? 0;
  }
}

const json = { 'Content-Type': 'application/json' };
const octets = { 'Content-Type': 'application/octet-stream' };
const VICTIM_CAST = '{"version":2,"width":80,"height":24,"timestamp":0}\n[0.1,"i","rm -rf /data\\r"]\n';

let stack: TestStack;
let store: MemoryRecordingStore;
let rogue: Credentials;
let carol: Credentials;
let alice: Credentials;
let victimId: string;
let mine: string;

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

function sessionOf(id: string, endedAt: number | null = null): SessionRecord {
  const day = new Date().toISOString().slice(0, 10);
  return {
    id, kind: 'exec', user: 'alice', roles: ['developer'], cluster: 'sandbox', namespace: 'default', pod: 'web-0', container: null, command: ['sh'], tty: true,
    kubernetesUser: 'alice', kubernetesGroups: [], clientIp: '10.0.0.7', startedAt: Date.now(), endedAt, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath: `${day}/${id}.cast`, recordingSize: null,
  };
}

const victimBytes = async () => Buffer.from((await store.read(victimId)) ?? []).toString('utf8');

beforeAll(async () => {
  stack = await startTestStack();
  store = new MemoryRecordingStore();
  // This auth service keeps recordings in the store from now on.
  stack.ztshd.auth.storage.recordings = store;
  carol = await credentialsOf(target(), 'carol');
  alice = await credentialsOf(target(), 'alice');

  // A proxy joins as proxies do (a proxy join token from the operator).
  const { token } = await createJoinToken(stack.ztshd.auth.deps, { type: 'proxy', ttlMs: 600_000, uses: 1 });
  const keys = newLoginKeys();
  const joined = await rawRequest(target(), { method: 'POST', path: '/v1/join', headers: json, body: JSON.stringify({ token, role: 'proxy', publicKey: keys.publicKey }) });
  expect(joined.status).toBe(200);
  rogue = { cert: joined.json().certificate, key: keys.privateKey };

  // Another proxy's running session, with its recording so far in the store.
  victimId = randomUUID();
  await stack.ztshd.auth.storage.sessions.insert(sessionOf(victimId), 'proxy.other-host');
  await store.append(victimId, 0, Buffer.from(VICTIM_CAST));

  // The rogue proxy's own session.
  mine = randomUUID();
  const created = await rawRequest(target(), { method: 'POST', path: '/v1/internal/sessions', as: rogue, headers: json, body: JSON.stringify(sessionOf(mine)) });
  expect(created.status).toBe(204);
});
afterAll(() => stack?.close());

describe('recordings in the store: the internal append route', () => {
  it('a proxy appends to its own running session (so the refusals below are the checks, not a dead route)', async () => {
    const res = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording/0`, as: rogue, headers: octets, body: '{"version":2,"width":80,"height":24,"timestamp":0}\n' });
    expect(res.status, res.body).toBe(204);
    expect(Buffer.from((await store.read(mine))!).toString()).toContain('"version":2');
  });

  it('the state the proxy watches says recordings are in the store', async () => {
    const res = await rawRequest(target(), { path: '/v1/internal/watch', as: rogue, headersOnly: true });
    expect(res.status).toBe(200);
    expect(res.body).toContain('"recordingsInStore":true');
  });

  it('another session\'s id, or its id dressed up with dots, escapes or case, appends nothing to it', async () => {
    const ids = [
      victimId,
      victimId.toUpperCase(),
      `${mine}%2F..%2F${victimId}`,
      `..%2F${victimId}`,
      `%2E%2E%2F${victimId}`,
      `${encodeURIComponent(victimId)}`,
      `${victimId}%00`,
      `${victimId}%20`,
      `${mine}%2F..%2F..%2F${victimId}`,
      `${mine}/../${victimId}`,
      `${mine}/..%2F${victimId}`,
    ];
    for (const id of ids) {
      for (const seq of ['0', '1', '7']) {
        const res = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${id}/recording/${seq}`, as: rogue, headers: octets, body: '[0.2,"o","forged"]\n' });
        expect(res.status, `${id} / ${seq}: ${res.body}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${id} / ${seq}`).toBeLessThan(500);
      }
    }
    expect(await victimBytes()).toBe(VICTIM_CAST);
    expect([...store.chunks.get(victimId)!.keys()]).toEqual([0]);
  });

  it('a chunk number that is not a plain number from 0 is refused, on its own session too', async () => {
    for (const seq of ['-1', '1e3', '01', '0x1', '1.0', '+1', '9999999999', 'NaN', '%2D1', '1%00', ' 1', '']) {
      const res = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording/${seq}`, as: rogue, headers: octets, body: 'x' });
      expect(res.status, `seq ${JSON.stringify(seq)}: ${res.body}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `seq ${JSON.stringify(seq)}`).toBeLessThan(500);
    }
    expect([...store.chunks.get(mine)!.keys()]).toEqual([0]);
  });

  it('a chunk past the size limit is refused, whatever Content-Length says', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'a');
    const res = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording/1`, as: rogue, headers: octets, body: big });
    expect(res.status).toBe(400);
    expect(store.chunks.get(mine)!.has(1)).toBe(false);
  });

  it('a seq sent again keeps the first chunk: a retry cannot rewrite what was stored', async () => {
    const first = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording/1`, as: rogue, headers: octets, body: '[0.1,"o","first"]\n' });
    const again = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording/1`, as: rogue, headers: octets, body: '[0.1,"o","rewritten"]\n' });
    expect([first.status, again.status]).toEqual([204, 204]);
    expect(Buffer.from((await store.read(mine))!).toString()).toContain('first');
    expect(Buffer.from((await store.read(mine))!).toString()).not.toContain('rewritten');
  });

  it('no one but a proxy appends: a user certificate or none is refused', async () => {
    for (const as of [alice, carol, undefined]) {
      const res = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${victimId}/recording/1`, as, headers: octets, body: 'x' });
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
    expect(await victimBytes()).toBe(VICTIM_CAST);
  });

  it('a session cannot name another session\'s recording, so nothing of the victim\'s is reachable through it', async () => {
    const other = randomUUID();
    const res = await rawRequest(target(), { method: 'POST', path: '/v1/internal/sessions', as: rogue, headers: json, body: JSON.stringify({ ...sessionOf(other), recordingPath: sessionOf(victimId).recordingPath }) });
    expect(res.status).toBe(400);
  });

  it('once a session ended its recording is complete: nothing more is appended', async () => {
    const ended = await rawRequest(target(), { method: 'PATCH', path: `/v1/internal/sessions/${mine}`, as: rogue, headers: json, body: JSON.stringify({ endedAt: Date.now(), recordingSize: 10 }) });
    expect(ended.status).toBe(204);
    const res = await rawRequest(target(), { method: 'PUT', path: `/v1/internal/sessions/${mine}/recording/2`, as: rogue, headers: octets, body: '[9,"o","after the end"]\n' });
    expect(res.status).toBe(409);
    expect(store.chunks.get(mine)!.has(2)).toBe(false);
  });
});

describe('recordings in the store: the auditors\' API', () => {
  it('an auditor replays a recording from the store, by its session id or prefix', async () => {
    for (const ref of [victimId, victimId.slice(0, 8)]) {
      const res = await rawRequest(target(), { path: `/v1/recordings/${ref}/cast`, as: carol });
      expect(res.status, res.body).toBe(200);
      expect(res.body).toBe(VICTIM_CAST);
      expect(res.headers['content-type']).toContain('application/x-asciicast');
    }
  });

  it('ids with dots, escapes or another id inside reach no recording', async () => {
    for (const ref of [`..%2F${victimId}`, `${mine}%2F..%2F${victimId}`, `${victimId}%2F..%2F${mine}`, `%2E%2E`, `${victimId}%00`, `${victimId.slice(0, 8)}%25`, '*', '%25']) {
      const res = await rawRequest(target(), { path: `/v1/recordings/${ref}/cast`, as: carol });
      expect(res.status, `${ref}: ${res.body}`).toBeGreaterThanOrEqual(400);
      expect(res.status, ref).toBeLessThan(500);
      expect(res.body).not.toContain('rm -rf');
    }
  });

  it('a user without the audit permission, or a proxy, reads no recording', async () => {
    for (const as of [alice, rogue, undefined]) {
      const res = await rawRequest(target(), { path: `/v1/recordings/${victimId}/cast`, as });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('rm -rf');
    }
  });
});
