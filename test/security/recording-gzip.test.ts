// Recordings are gzip (`<day>/<id>.ztrec.gz`, and `.cast.gz` from before),
// which opens two surfaces (the events format inside has its own file:
// recording-events.test.ts):
//
// 1. The name a proxy gives its session's recording (POST and PATCH
//    /v1/internal/sessions). It decides where auth writes the proxy's
//    upload, so it must stay `<day>/<the session's own id>.ztrec.gz` (or
//    `.cast.gz` or `.cast` from before): no other session's, no other dir,
//    no case or encoding games, no extra suffix.
// 2. Accept-Encoding on /v1/recordings/:id/cast: whatever the header says,
//    the body decodes (by the Content-Encoding sent) to the same asciicast,
//    gzip goes only to a client that offered it, and a recording its proxy
//    never finished is decoded on the server rather than sent as a gzip
//    stream without its end.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createJoinToken, type SessionRecord } from '@ztsh/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLoginKeys } from '../helpers/http-login.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

let stack: TestStack;
let carol: Credentials;
let proxy: Credentials;
const json = { 'Content-Type': 'application/json' };
const DAY = '2026-02-03';

beforeAll(async () => {
  stack = await startTestStack();
  carol = await credentialsOf(target(), 'carol');
  // A proxy joins as proxies do (a proxy join token from the operator).
  const { token } = await createJoinToken(stack.ztshd.auth.deps, { type: 'proxy', ttlMs: 600_000, uses: 1 });
  const keys = newLoginKeys();
  const joined = await rawRequest(target(), { method: 'POST', path: '/v1/join', headers: json, body: JSON.stringify({ token, role: 'proxy', publicKey: keys.publicKey }) });
  expect(joined.status).toBe(200);
  proxy = { cert: joined.json().certificate, key: keys.privateKey };
});
afterAll(() => stack?.close());

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

function record(id: string, recordingPath: string | null, end: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id, kind: 'exec', user: 'alice', roles: ['developer'], cluster: 'sandbox', namespace: 'default', pod: 'web-0', container: null, command: ['sh'], tty: true,
    kubernetesUser: 'alice', kubernetesGroups: [], clientIp: '10.0.0.7', startedAt: Date.now(), endedAt: null, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath, recordingSize: null, ...end,
  };
}

describe('the recording name a proxy gives its session', () => {
  it('is its own id with .ztrec.gz, .cast.gz or .cast, and nothing else', async () => {
    const startWith = async (name: (id: string) => string) => {
      const id = randomUUID();
      const res = await rawRequest(target(), { method: 'POST', path: '/v1/internal/sessions', as: proxy, headers: json, body: JSON.stringify(record(id, name(id))) });
      return { id, status: res.status, body: res.body };
    };
    for (const good of [(id: string) => `${DAY}/${id}.ztrec.gz`, (id: string) => `${DAY}/${id}.cast.gz`, (id: string) => `${DAY}/${id}.cast`]) {
      const r = await startWith(good);
      expect(r.status, r.body).toBe(204);
    }
    const other = randomUUID();
    const bad: ((id: string) => string)[] = [
      (id) => `${DAY}/${other}.cast.gz`,
      (id) => `${DAY}/${other}.ztrec.gz`,
      (id) => `${DAY}/${id}.ztrec`,
      (id) => `${DAY}/${id}.ztrec.gz.gz`,
      (id) => `${DAY}/${id}.ZTREC.GZ`,
      (id) => `${DAY}/${id}.ztrec.cast.gz`,
      (id) => `${DAY}/${id}.cast.ztrec.gz`,
      (id) => `${DAY}/${id}.ztrec.gz/../${other}.ztrec.gz`,
      (id) => `${DAY}/${id}.cast.gz.gz`,
      (id) => `${DAY}/${id}.cast.gz.cast.gz`,
      (id) => `${DAY}/${id}.CAST.GZ`,
      (id) => `${DAY}/${id}.cast.GZ`,
      (id) => `${DAY}/${id}.castgz`,
      (id) => `${DAY}/${id}.gz`,
      (id) => `${DAY}/${id}.cast.gz/`,
      (id) => `${DAY}/${id}.cast.gz.upload`,
      (id) => `${DAY}/${id}.cast%2egz`,
      (id) => `${DAY}/${id}.cast.gz\u0000`,
      (id) => `${DAY}/${id}.cast.gz\n`,
      (id) => `${DAY}/${id}.cast\u2024gz`,
      (id) => `${DAY}/../${id}.cast.gz`,
      (id) => `../${DAY}/${id}.cast.gz`,
      (id) => `/${DAY}/${id}.cast.gz`,
      (id) => `${DAY}//${id}.cast.gz`,
      (id) => `${DAY}/x/${id}.cast.gz`,
      (id) => `${DAY}\\${id}.cast.gz`,
      (id) => `${id}.cast.gz`,
      (id) => `${DAY}/${id}.cast.gz${' '.repeat(10_000)}`,
      (id) => `${DAY}/${other}${id}.cast.gz`,
    ];
    for (const name of bad) {
      const r = await startWith(name);
      expect(r.status, `${JSON.stringify(name(r.id)).slice(0, 120)}: ${r.body}`).toBe(400);
      expect(await stack.ztshd.auth.storage.sessions.get(r.id)).toBeUndefined();
    }
  });

  it('cannot be turned by PATCH into another session\'s, whichever suffix', async () => {
    const id = randomUUID();
    const victim = randomUUID();
    expect((await rawRequest(target(), { method: 'POST', path: '/v1/internal/sessions', as: proxy, headers: json, body: JSON.stringify(record(id, `${DAY}/${id}.cast.gz`)) })).status).toBe(204);
    for (const path of [`${DAY}/${victim}.ztrec.gz`, `${DAY}/${victim}.cast.gz`, `${DAY}/${victim}.cast`, `${DAY}/${id}.cast.gz.gz`, `${DAY}/${id}.cast.gz/../${victim}.cast.gz`]) {
      const res = await rawRequest(target(), { method: 'PATCH', path: `/v1/internal/sessions/${id}`, as: proxy, headers: json, body: JSON.stringify({ recordingPath: path }) });
      expect(res.status, path).toBe(400);
    }
    expect((await stack.ztshd.auth.storage.sessions.get(id))!.recordingPath).toBe(`${DAY}/${id}.cast.gz`);
  });
});

const CAST = '{"version":2,"width":80,"height":24,"timestamp":0}\n[0.1,"o","gzip-served-marker\\r\\n"]\n[0.2,"o","\\u0000\\u0000\\u0000"]\n';

/** A finished or unfinished gzip recording stored as a proxy leaves it. */
async function storeGzip(finished: boolean): Promise<string> {
  const id = randomUUID();
  const whole = gzipSync(CAST);
  // Unfinished: the stream without its 8-byte trailer, as after a kill -9.
  const bytes = finished ? whole : whole.subarray(0, whole.length - 8);
  mkdirSync(join(stack.ztshd.auth.recordingsDir, DAY), { recursive: true });
  writeFileSync(join(stack.ztshd.auth.recordingsDir, DAY, `${id}.cast.gz`), bytes);
  const end = finished ? { endedAt: Date.now(), exitCode: 0, recordingSize: bytes.length } : { endedAt: Date.now(), endReason: 'interrupted', recordingSize: bytes.length };
  await stack.ztshd.auth.storage.sessions.insert(record(id, `${DAY}/${id}.cast.gz`, end));
  return id;
}

/** GET with exactly these headers, the body as bytes. */
function getCast(id: string, headers: Record<string, string | string[]>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/v1/recordings/${id}/cast`, stack.url), { ca: stack.tlsCa, cert: carol.cert, key: carol.key, agent: false, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Accept-Encoding on /v1/recordings/:id/cast', () => {
  /** true: gzip must be sent; false: it must not; 'either': both are right, the body must match what was said. */
  const offers: [string, Record<string, string | string[]>, boolean | 'either'][] = [
    ['no header', {}, false],
    ['gzip', { 'Accept-Encoding': 'gzip' }, true],
    ['GZIP', { 'Accept-Encoding': 'GZIP' }, true],
    ['browser list', { 'Accept-Encoding': 'gzip, deflate, br, zstd' }, true],
    ['*', { 'Accept-Encoding': '*' }, true],
    ['gzip;q=0', { 'Accept-Encoding': 'gzip;q=0' }, false],
    ['gzip;q=0.000', { 'Accept-Encoding': 'gzip;q=0.000' }, false],
    ['*;q=0', { 'Accept-Encoding': '*;q=0' }, false],
    ['identity', { 'Accept-Encoding': 'identity' }, false],
    ['x-gzip', { 'Accept-Encoding': 'x-gzip' }, false],
    ['br only', { 'Accept-Encoding': 'br' }, false],
    ['bad q', { 'Accept-Encoding': 'gzip;q=abc' }, false],
    ['prefers identity', { 'Accept-Encoding': 'gzip;q=0.5, identity' }, false],
    ['empty', { 'Accept-Encoding': '' }, false],
    ['junk', { 'Accept-Encoding': ';;;,,,=q;gz\u00ffip' }, false],
    ['long', { 'Accept-Encoding': `${'a;q=0.1, '.repeat(700)}gzip` }, true],
    ['twice', { 'Accept-Encoding': ['identity', 'gzip'] }, 'either'],
  ];

  it('sends gzip only to a client that offered it, and the same asciicast either way', async () => {
    const id = await storeGzip(true);
    for (const [name, headers, gzip] of offers) {
      const res = await getCast(id, headers);
      expect(res.status, name).toBe(200);
      expect(res.headers.vary, name).toMatch(/accept-encoding/i);
      expect(res.headers['content-type'], name).toMatch(/^application\/x-asciicast/);
      const sent = res.headers['content-encoding'];
      expect([undefined, 'gzip'], name).toContain(sent);
      if (gzip !== 'either') expect(sent, name).toBe(gzip ? 'gzip' : undefined);
      const text = (sent === 'gzip' ? gunzipSync(res.body) : res.body).toString('utf8');
      expect(text, name).toBe(CAST);
    }
  });

  it('decodes on the server a recording whose proxy never finished it, whatever the client offers', async () => {
    const id = await storeGzip(false);
    for (const [name, headers] of offers) {
      const res = await getCast(id, headers);
      expect(res.status, name).toBe(200);
      expect(res.headers['content-encoding'], name).toBeUndefined();
      expect(res.body.toString('utf8'), name).toBe(CAST);
    }
  });

  it('serves an old plain .cast as it is, with no Content-Encoding', async () => {
    const id = randomUUID();
    writeFileSync(join(stack.ztshd.auth.recordingsDir, DAY, `${id}.cast`), CAST);
    await stack.ztshd.auth.storage.sessions.insert(record(id, `${DAY}/${id}.cast`, { endedAt: Date.now(), recordingSize: CAST.length }));
    const res = await getCast(id, { 'Accept-Encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString('utf8')).toBe(CAST);
  });

  it('a .cast.gz that is not gzip (a lying proxy\'s upload) fails that response only; the server goes on', async () => {
    const id = randomUUID();
    writeFileSync(join(stack.ztshd.auth.recordingsDir, DAY, `${id}.cast.gz`), CAST);
    await stack.ztshd.auth.storage.sessions.insert(record(id, `${DAY}/${id}.cast.gz`, { endedAt: Date.now(), endReason: 'interrupted', recordingSize: CAST.length }));
    const res = await getCast(id, {}).catch((error: Error) => ({ status: 0, body: Buffer.from(error.message), headers: {} }));
    expect(res.body.toString('utf8')).not.toContain('gzip-served-marker');
    const good = await storeGzip(true);
    expect((await getCast(good, {})).body.toString('utf8')).toBe(CAST);
  });
});
