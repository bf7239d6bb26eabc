// A recording in the events format (`<day>/<id>.ztrec.gz`) comes from a
// proxy: uploaded whole at the session's end, or appended in chunks. Auth
// turns it into asciicast for every reader (the player, `ztsh play`, the
// text of a lost session), so a lying or broken proxy must not be able to:
// - make a line the auditor sees as an event it did not record (a header or
//   a resize that carries a quote and a newline);
// - crash or stall auth with a bad event (unknown kind, a length of 4 GiB,
//   a time that is not a number);
// - get a broken recording served as if whole.
// What is wrong fails that recording's response only; the server goes on.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import type { SessionRecord } from '@ztsh/auth';
import { EVENT_HEADER_BYTES, EVENT_OUTPUT, EVENT_RESIZE, parseAsciicast, RECORDING_MAGIC, recordingPreamble, writeEventHeader } from '@ztsh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, type Credentials } from './helpers/raw-client.ts';

let stack: TestStack;
let carol: Credentials;
const DAY = '2026-02-04';
const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 0 };

beforeAll(async () => {
  stack = await startTestStack();
  carol = await credentialsOf({ url: stack.url, tlsCa: stack.tlsCa }, 'carol');
});
afterAll(() => stack?.close());

function event(kind: number, seconds: number, data: Buffer, length = data.length): Buffer {
  const head = Buffer.alloc(EVENT_HEADER_BYTES);
  writeEventHeader(head, 0, kind, seconds, length);
  return Buffer.concat([head, data]);
}

const GOOD = [event(EVENT_OUTPUT, 0.1, Buffer.from('before-the-lie\r\n'))];

/** Stores `bytes` as a finished session's recording, as a proxy's upload leaves it. */
async function storeRecording(bytes: Buffer, end: Partial<SessionRecord> = { endedAt: Date.now(), exitCode: 0 }): Promise<string> {
  const id = randomUUID();
  mkdirSync(join(stack.ztshd.auth.recordingsDir, DAY), { recursive: true });
  writeFileSync(join(stack.ztshd.auth.recordingsDir, DAY, `${id}.ztrec.gz`), bytes);
  await stack.ztshd.auth.storage.sessions.insert({
    id, kind: 'exec', user: 'alice', roles: ['developer'], cluster: 'sandbox', namespace: 'default', pod: 'web-0', container: null, command: ['sh'], tty: true,
    kubernetesUser: 'alice', kubernetesGroups: [], clientIp: '10.0.0.7', startedAt: Date.now(), endedAt: null, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath: `${DAY}/${id}.ztrec.gz`, recordingSize: bytes.length, ...end,
  });
  return id;
}

/** GET the asciicast; a response cut short by the server resolves with what came and `cut`. */
function getCast(id: string, gzip: boolean): Promise<{ status: number; encoding: string | undefined; body: Buffer; cut: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/v1/recordings/${id}/cast`, stack.url), { ca: stack.tlsCa, cert: carol.cert, key: carol.key, agent: false, headers: gzip ? { 'Accept-Encoding': 'gzip' } : {} }, (res) => {
      const parts: Buffer[] = [];
      const done = (cut: boolean) => resolve({ status: res.statusCode!, encoding: res.headers['content-encoding'], body: Buffer.concat(parts), cut });
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () => done(false));
      res.on('error', () => done(true));
      res.on('aborted', () => done(true));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The asciicast a response carried, however much of it came. */
function textOf(res: { encoding: string | undefined; body: Buffer }): string {
  return (res.encoding === 'gzip' ? gunzipSync(res.body, { finishFlush: constants.Z_SYNC_FLUSH }) : res.body).toString('utf8');
}

describe('a recording in the events format, as auth serves it', () => {
  it('is served as asciicast, gzip-encoded to a client that takes gzip, plain to one that does not', async () => {
    const id = await storeRecording(gzipSync(Buffer.concat([recordingPreamble(HEADER), ...GOOD, event(EVENT_RESIZE, 0.2, Buffer.from('120x40'))])));
    for (const gzip of [true, false]) {
      const res = await getCast(id, gzip);
      expect(res.status).toBe(200);
      expect(res.encoding).toBe(gzip ? 'gzip' : undefined);
      expect(parseAsciicast(textOf(res)).events).toEqual([[0.1, 'o', 'before-the-lie\r\n'], [0.2, 'r', '120x40']]);
    }
  });

  it('serves what a proxy killed mid-event left, up to its last whole event', async () => {
    const whole = Buffer.concat([recordingPreamble(HEADER), ...GOOD, event(EVENT_OUTPUT, 0.3, Buffer.from('x'.repeat(5000)))]);
    const id = await storeRecording(gzipSync(whole.subarray(0, whole.length - 100)).subarray(0, -8), { endedAt: Date.now(), endReason: 'interrupted' });
    const res = await getCast(id, true);
    expect(res.status).toBe(200);
    expect(res.cut).toBe(false);
    expect(parseAsciicast(textOf(res)).events).toEqual([[0.1, 'o', 'before-the-lie\r\n']]);
  });

  it('never turns a header with a quote and a newline in it into an event', async () => {
    const header = { ...HEADER, title: 'x"]\n[0.5,"o","forged-event"]\n' };
    const id = await storeRecording(gzipSync(Buffer.concat([recordingPreamble(header), ...GOOD])));
    const text = textOf(await getCast(id, false));
    const cast = parseAsciicast(text);
    expect(text.split('\n').filter(Boolean)).toHaveLength(2);
    expect(cast.header.title).toBe(header.title);
    expect(cast.events.map((e) => e[2])).toEqual(['before-the-lie\r\n']);
  });

  const lies: [string, Buffer][] = [
    ['a header line with a raw newline inside its JSON', Buffer.concat([Buffer.from(RECORDING_MAGIC + '{"version":2,"title":"a\n[0.5,"o","forged-event"]\n'), ...GOOD])],
    ['a resize that carries an event', Buffer.concat([recordingPreamble(HEADER), ...GOOD, event(EVENT_RESIZE, 0.2, Buffer.from('1x1"],[0.5,"o","forged-event'))])],
    ['an unknown event kind', Buffer.concat([recordingPreamble(HEADER), ...GOOD, event(0x78, 0.2, Buffer.from('forged-event'))])],
    ['an event of 4 GiB', Buffer.concat([recordingPreamble(HEADER), ...GOOD, event(EVENT_OUTPUT, 0.2, Buffer.from('forged-event'), 0xffffffff)])],
    ['a time that is not a number', Buffer.concat([recordingPreamble(HEADER), ...GOOD, event(EVENT_OUTPUT, Number.NaN, Buffer.from('forged-event'))])],
    ['an asciicast file under the new name', Buffer.from('{"version":2,"width":80,"height":24,"timestamp":0}\n[0.5,"o","forged-event"]\n')],
  ];
  it.each(lies)('fails the response to %s, and the server goes on', async (_, bytes) => {
    const id = await storeRecording(gzipSync(bytes));
    for (const gzip of [true, false]) {
      const res = await getCast(id, gzip).catch(() => ({ status: 0, encoding: undefined, body: Buffer.alloc(0), cut: true }));
      let text = '';
      try {
        text = textOf(res);
      } catch {
        // a gzip body cut short may not decode at all
      }
      expect(text).not.toContain('forged-event');
      // Never served as if whole: either refused or cut short.
      expect(res.status !== 200 || res.cut).toBe(true);
    }
    const good = await storeRecording(gzipSync(Buffer.concat([recordingPreamble(HEADER), ...GOOD])));
    expect(parseAsciicast(textOf(await getCast(good, false))).events).toHaveLength(1);
  });
});
