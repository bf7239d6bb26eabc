// Session ids may be given by a prefix (`ztsh play 6f1c2a9b`) on
// /v1/recordings/<id>, /v1/recordings/<id>/cast and /v1/audit/events?session=.
// The prefix reaches SQL as a LIKE pattern: LIKE's wildcards (`%`, `_`) and
// its escape (`\`) must never widen it, however they are encoded, and
// nothing but the id's own characters, at least 4 and fewer than 36 of them,
// is looked up. The event type filter is checked the same way.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { storeSession } from '../helpers/stored-session.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

let stack: TestStack;
let carol: Credentials;
const twinA = 'abcd1234-0000-4000-8000-00000000000a';
const twinB = 'abcd1234-0000-4000-8000-00000000000b';
const single = 'f00dcafe-1111-4111-8111-111111111111';

beforeAll(async () => {
  stack = await startTestStack();
  carol = await credentialsOf(target(), 'carol');
  for (const id of [twinA, twinB, single]) await storeSession(stack, { id, output: [`output of ${id}\r\n`] });
});
afterAll(() => stack?.close());

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

const get = (path: string) => rawRequest(target(), { path, as: carol });

/** Each place a session id or prefix is read, with the raw (already encoded) text put in. */
const places = (raw: string) => [`/v1/recordings/${raw}`, `/v1/recordings/${raw}/cast`, `/v1/audit/events?session=${raw}`];

describe('session id prefixes', () => {
  it('a unique prefix finds its session in each place; a whole id too', async () => {
    for (const ref of ['f00d', 'f00dcafe', 'f00dcafe-1111-41', single]) {
      const meta = await get(`/v1/recordings/${ref}`);
      expect(meta.status, ref).toBe(200);
      expect(meta.json().session.id).toBe(single);
      const cast = await get(`/v1/recordings/${ref}/cast`);
      expect(cast.status, ref).toBe(200);
      expect(cast.body).toContain(`output of ${single}`);
      expect((await get(`/v1/audit/events?session=${ref}`)).status, ref).toBe(200);
    }
  });

  it('an ambiguous prefix is refused, saying how many ids it starts', async () => {
    for (const path of places('abcd1234')) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.json().error.message).toMatch(/abcd1234 is the start of 2 session ids/);
    }
    expect((await get(`/v1/recordings/${twinA}`)).json().session.id).toBe(twinA);
  });

  it('LIKE wildcards and the escape, raw or percent-encoded, are refused, never matched', async () => {
    const attempts = ['%25', '%25%25%25%25', 'abcd%25', '____', 'abcd1234_', 'f00d_', '%5C%5C%5C%5C', 'f00d%5C', 'f00d%5C%25', '%5F%5F%5F%5F', 'abc%5Cd', '*', 'f00d*', '[a-f]%25'];
    for (const raw of attempts) {
      for (const path of places(raw)) {
        const res = await get(path);
        expect(res.status, path).toBe(400);
        expect(res.json().error.message, path).toMatch(/is not a session id/);
      }
    }
  });

  it('too short, too long, the wrong case or another alphabet is refused', async () => {
    const attempts = ['f', 'f00', 'F00DCAFE', `${single}0`, 'f'.repeat(5000), 'f00d%00', 'f00d%0A', 'f00d%E2%80%90', 'ｆ００ｄ', '%20f00d', 'f00d+', '..%2F..'];
    for (const raw of attempts) {
      for (const path of places(encodeURI(raw).replace(/%25/g, '%'))) {
        const res = await get(path);
        expect([400, 404], path).toContain(res.status);
        if (res.status === 404) expect(path, 'a 404 only where the router matched nothing').toMatch(/%2F/);
        else expect(res.json().error.message, path).toMatch(/not a session id|too short a prefix|longer than/);
      }
    }
  });

  it('whatever the text, the answer is a 400 or the one session it names, never a 500 or a wider match', async () => {
    const ids = new Set([twinA, twinB, single]);
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...'abcdf01-%_\\*[]^.'.split('')), minLength: 1, maxLength: 40 }), async (text) => {
        const res = await get(`/v1/recordings/${encodeURIComponent(text)}`);
        expect([200, 400, 404], text).toContain(res.status);
        if (res.status === 200) {
          const id = res.json().session.id as string;
          expect(ids.has(id) && id.startsWith(text), text).toBe(true);
          expect(/^[0-9a-f-]{4,36}$/.test(text), text).toBe(true);
        }
        if (/[%_\\*[\]^.]/.test(text)) expect(res.status, text).toBe(400);
      }),
      { numRuns: 150 },
    );
  });
});

describe('event type filter', () => {
  it('a type, or a prefix ending in "." or "*", is searched; anything else is a 400 naming the known types', async () => {
    for (const ok of ['kube.request', 'kube.', 'session*', '*', 'user.mfa.enroll']) expect((await get(`/v1/audit/events?type=${ok}`)).status, ok).toBe(200);
    for (const bad of ['kube', 'KUBE.', 'kube.%25', '%25', 'kube._', 'kube.request%00', 'kube%2Erequest%2E%2E_', 'x'.repeat(2000)]) {
      const res = await get(`/v1/audit/events?type=${bad}`);
      expect(res.status, bad).toBe(400);
      if (bad.length < 1000) expect(res.json().error.hint, bad).toMatch(/known types: user\.login, .*kube\.request.*; or a prefix such as kube\. or session\*/);
    }
  });
});
