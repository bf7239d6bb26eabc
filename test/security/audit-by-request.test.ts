// /v1/audit/events?request=<id> (ztsh audit search --request): the id
// reaches the text index as a phrase and SQL as a parameter. Query syntax,
// wildcards, encodings and case must never widen it: the answer is a 400,
// or exactly the events of that request.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

let stack: TestStack;
let carol: Credentials;
let alice: Credentials;
const ID = 'Rq7-aZ_k2LmN9pQrS4tUvw';
const OTHER = 'Rq7-aZ_k2LmN9pQrS4tUvx';

beforeAll(async () => {
  stack = await startTestStack();
  const target: Target = { url: stack.url, tlsCa: stack.tlsCa };
  carol = await credentialsOf(target, 'carol');
  alice = await credentialsOf(target, 'alice');
  const base = { code: 'ZA2000I', success: true, user: 'alice', time: new Date().toISOString() };
  await stack.ztshd.auth.storage.audit.appendMany([
    { ...base, type: 'access_request.create', code: 'ZA5000I', message: 'mine', fields: { accessRequest: ID } },
    { ...base, type: 'kube.request', message: 'mine', fields: { cluster: 'prod', accessRequests: [ID] } },
    { ...base, type: 'kube.request', message: 'other', fields: { cluster: 'prod', accessRequests: [OTHER] } },
    { ...base, type: 'kube.request', message: 'mention', fields: { cluster: 'prod', name: ID, reason: `"${ID}" OR *` } },
  ]);
}, 300_000);
afterAll(() => stack?.close());

const search = (raw: string, as = carol) => rawRequest({ url: stack.url, tlsCa: stack.tlsCa }, { path: `/v1/audit/events?request=${raw}`, as });

describe('audit search by access request', () => {
  it('finds exactly the events of the request, and only for auditors', async () => {
    const res = await search(ID);
    expect(res.status).toBe(200);
    expect(res.json().events.map((e: { message: string }) => e.message)).toEqual(['mine', 'mine']);
    expect((await search(ID, alice)).status).toBe(403);
  });

  it('refuses query syntax, wildcards, encodings and oversized ids with a 400, never a wider match', async () => {
    const attempts = ['', '%25', '*', `${ID}*`, '%22', `%22${ID}%22`, `${ID}%20OR%20x`, 'NEAR(a%20b)', `${ID}%00`, `${ID}%0A`, 'a'.repeat(65), `${ID}%E2%80%90x`, '%EF%BC%A1', '-_-', `${ID.slice(0, 4)}%25`, `${ID}&request=${OTHER}`];
    for (const raw of attempts) {
      const res = await search(raw);
      if (raw === '') {
        // An empty value is no filter at all: the same as not asking, which an auditor may do.
        expect(res.status).toBe(200);
        continue;
      }
      if (raw.includes('&request=')) {
        // A second value is either refused or ignored in favour of one: never both requests' events.
        if (res.status === 200) expect(new Set(res.json().events.map((e: { message: string }) => e.message))).not.toEqual(new Set(['mine', 'other']));
        else expect(res.status).toBe(400);
        continue;
      }
      expect(res.status, raw).toBe(400);
      expect(res.json().error.message, raw).toMatch(/request: /);
    }
  });

  it('another case or a prefix of the id is another id: nothing of this request', async () => {
    for (const id of [ID.toLowerCase(), ID.toUpperCase(), ID.slice(0, 12), ID.slice(1)]) {
      const res = await search(id);
      expect(res.status, id).toBe(200);
      expect(res.json().events, id).toEqual([]);
    }
  });

  it('whatever the text, the answer is a 400 or events of exactly that id, never a 500 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/), fc.constantFrom(ID, OTHER)), async (text) => {
        const res = await search(encodeURIComponent(text));
        expect([200, 400], text).toContain(res.status);
        if (res.status === 200 && text) {
          for (const e of res.json().events as { fields: { accessRequest?: string; accessRequests?: string[] } }[]) {
            expect(e.fields.accessRequest === text || (e.fields.accessRequests ?? []).includes(text), text).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  }, 300_000);
});
