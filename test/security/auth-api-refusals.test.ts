// Items 10 and 12: the auditors' and admins' API. Every refusal (401, 403)
// on /v1/audit/*, /v1/recordings, /v1/locks and the web page is a security
// event in the audit log, named with the user the credentials name, even
// an expired certificate's. Every query parameter is checked: a bad value is
// a 400 that says what is wrong, never a 500.
import fc from 'fast-check';
import { DEV_USERS } from '@ztsh/server';
import { FormClient } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@ztsh/protocol';
import { totpNow } from '../helpers/http-login.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

/** The auth service's clock: the real time, plus what a test moves it by. */
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

let stack: TestStack;
let alice: Credentials;
let carol: Credentials;

beforeAll(async () => {
  stack = await startTestStack({ clock });
  alice = await credentialsOf(target(), 'alice');
  carol = await credentialsOf(target(), 'carol');
});
afterAll(() => stack?.close());

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

const auditOf = (): Promise<AuditEvent[]> => stack.ztshd.auth.storage.audit.list({ limit: 100_000 });
const refusalsOf = async (path: string) => (await auditOf()).filter((e) => e.type === 'api.request' && !e.success && e.fields.path === path);

describe('item 10: refusals on the auditors\' and admins\' API are audited', () => {
  it('item 10: a 403 on each /v1/audit/* and /v1/recordings route is stored with the user and the missing permission', async () => {
    for (const path of ['/v1/audit/events', '/v1/audit/verify', '/v1/audit/export', '/v1/recordings', '/v1/recordings/some-id', '/v1/recordings/some-id/cast']) {
      const res = await rawRequest(target(), { path, as: alice });
      expect(res.status, path).toBe(403);
      const [event] = (await refusalsOf(path)).slice(-1);
      expect(event, path).toMatchObject({ user: 'alice', code: 'ZA4000W', fields: { status: 403, reason: 'denied', permission: 'audit', via: 'certificate', method: 'GET' } });
    }
  });

  it('item 10: a 403 on /v1/locks (list, add, remove) is stored', async () => {
    const list = await rawRequest(target(), { path: '/v1/locks', as: carol });
    const add = await rawRequest(target(), { method: 'POST', path: '/v1/locks', as: alice, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'bob' }) });
    const rm = await rawRequest(target(), { method: 'DELETE', path: '/v1/locks/abc', as: alice });
    expect([list.status, add.status, rm.status]).toEqual([403, 403, 403]);
    const events = (await refusalsOf('/v1/locks')).concat(await refusalsOf('/v1/locks/abc'));
    expect(events.map((e) => `${e.user} ${e.fields.method} ${e.fields.permission}`)).toEqual(['carol GET admin', 'alice POST admin', 'alice DELETE admin']);
    expect(stack.ztshd.auth.deps.locks.list()).toEqual([]);
  });

  it('item 10: no certificate, or one from another CA, is a 401 that is stored too', async () => {
    const none = await rawRequest(target(), { path: '/v1/audit/verify' });
    expect(none.status).toBe(401);
    expect((await refusalsOf('/v1/audit/verify')).at(-1)).toMatchObject({ fields: { status: 401, reason: 'no_certificate' } });
  });

  it('item 10: the web page\'s 403, and its API calls with the page\'s cookie, are stored with the signed-in user', async () => {
    const alicePerson = DEV_USERS[0]!;
    const browser = new FormClient({ ca: stack.tlsCa });
    try {
      const idpPage = await browser.get(new URL('/web/login/dev', stack.url));
      const mfa = await browser.submitForm(idpPage, { username: alicePerson.username, password: alicePerson.password });
      // alice's code of this 30 s window went to her certificate login above.
      const page = await browser.submitForm(mfa, { code: totpNow(alicePerson.totpSecret!, Date.now() + 30_000) }, { formAction: '/mfa/totp' });
      expect(page.status).toBe(403);
      expect(page.url).toBe(new URL('/web', stack.url).href);
      expect((await refusalsOf('/web')).at(-1)).toMatchObject({ user: 'alice', fields: { status: 403, reason: 'denied', via: 'web', permission: 'audit' } });
      const api = await rawRequest(target(), { path: '/v1/recordings', headers: { Cookie: browser.cookieHeader(stack.url), 'Sec-Fetch-Site': 'same-origin' } });
      expect(api.status).toBe(403);
      expect((await refusalsOf('/v1/recordings')).at(-1)).toMatchObject({ user: 'alice', fields: { via: 'web' } });
    } finally {
      await browser.close();
    }
  });

  it('item 10: an expired certificate is a 401 audited with the user it names, marked as expired', async () => {
    offsetMs = 9 * 3_600_000;
    try {
      const res = await rawRequest(target(), { path: '/v1/audit/events', as: carol });
      expect(res.status).toBe(401);
      expect(res.json().error.message).toMatch(/expired/);
      const [event] = (await refusalsOf('/v1/audit/events')).slice(-1);
      expect(event).toMatchObject({ user: 'carol', fields: { status: 401, reason: 'expired', certificateExpired: true, roles: ['auditor'] } });
      expect(Date.parse(event!.fields.notAfter as string)).toBeLessThan(clock.now().getTime());
    } finally {
      offsetMs = 0;
    }
  });

  it('item 10: refusals are on disk before the answer, and the chain still verifies', async () => {
    const before = (await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).length;
    const res = await rawRequest(target(), { path: '/v1/audit/verify', as: alice });
    expect(res.status).toBe(403);
    // No flush in between: a durable event is written before the 403 goes out.
    expect((await stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).length).toBeGreaterThan(before);
    expect((await stack.ztshd.auth.storage.audit.verify()).ok).toBe(true);
  });
});

describe('item 12: query parameters of the audit API are checked', () => {
  const get = (path: string) => rawRequest(target(), { path, as: carol });

  it('item 12: since=9999999999d and other spans past any date are 400, not 500', async () => {
    for (const q of ['since=9999999999d', 'since=99999999999999999999999999h', 'until=36501d', `since=${'9'.repeat(400)}s`]) {
      const res = await get(`/v1/audit/events?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json().error.code, q).toBe('bad_request');
      expect(res.json().error.message, q).toMatch(/^(since|until): /);
    }
  });

  it('item 12: negative, NaN, malformed and out-of-range times are 400', async () => {
    for (const q of [
      'since=-1d',
      'since=NaN',
      'since=Infinity',
      'since=1d-2h',
      'since=275760-09-13',
      'since=%2B275760-09-13T00:00:00Z',
      'since=0001-01-01',
      'since=2026-02-31',
      'since=2026-13-01',
      'since=2026-11-23T25:00:00Z',
      'since=2026-11-23T10:00:00%2B25:00',
      'since=Tuesday',
      'since=1',
      'until=2026-11-23T10:00:00',
    ]) {
      const res = await get(`/v1/audit/events?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json().error.hint, q).toMatch(/ISO 8601/);
    }
  });

  it('item 12: bad limits, afters and cursors are 400', async () => {
    const cases = [
      '/v1/audit/events?limit=0',
      '/v1/audit/events?limit=-5',
      '/v1/audit/events?limit=1001',
      '/v1/audit/events?limit=1e3',
      '/v1/audit/events?limit=0x10',
      '/v1/audit/events?limit=NaN',
      '/v1/audit/events?limit=99999999999999999999',
      '/v1/audit/events?before=x_99999999999999999999',
      '/v1/audit/events?before=notatime_5',
      '/v1/audit/export?after=-1',
      '/v1/audit/export?after=1e400',
      '/v1/audit/export?after=NaN',
      '/v1/audit/export?after=99999999999999999999',
      '/v1/audit/export?follow=yes',
      '/v1/recordings?limit=-1',
      '/v1/recordings?since=9999999999d',
      '/v1/recordings?before=99999999999999999999_x',
      '/v1/recordings?kind=shell',
    ];
    for (const path of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.json().error.code, path).toBe('bad_request');
    }
  });

  it('item 12: a parameter given twice is 400, not silently the first', async () => {
    for (const path of ['/v1/audit/events?since=1d&since=9999999999d', '/v1/audit/events?limit=5&limit=6', '/v1/audit/export?after=1&after=2', '/v1/recordings?user=a&user=b', '/v1/audit/events?user=a&user=b']) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.json().error.message, path).toMatch(/give it once/);
    }
  });

  it('item 12: since after until is 400; good values still answer', async () => {
    const swapped = await get('/v1/audit/events?since=2026-11-24&until=2026-11-23');
    expect(swapped.status).toBe(400);
    expect(swapped.json().error.message).toMatch(/since .* is after until/);
    for (const q of ['since=7d', 'since=1h30m&until=1m', 'since=2026-11-23', 'since=2026-11-23T10:00Z', 'since=2026-11-23T10:00:00.123%2B02:00', 'limit=1000', 'since=36500d']) {
      const res = await get(`/v1/audit/events?${q}`);
      expect(res.status, q).toBe(200);
    }
    const page = await get('/v1/audit/events?limit=1');
    const next = page.json().next as string;
    expect((await get(`/v1/audit/events?limit=1&before=${encodeURIComponent(next)}`)).status).toBe(200);
  });

  it('item 12: no since, until, limit or after value makes the API answer 500 (property)', async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
      fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
      fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString())),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('since', 'until', 'limit', 'after', 'before'), value, fc.constantFrom('/v1/audit/events', '/v1/recordings', '/v1/audit/export'), async (name, v, path) => {
        const res = await get(`${path}?${name}=${encodeURIComponent(v)}`);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 80 },
    );
  });
});
