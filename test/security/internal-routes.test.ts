// Item 3: the internal API (/v1/internal/*, a proxy's own channel to auth)
// answers no one but a proxy, whatever spelling of the path is sent: case,
// percent-escapes, dot segments, empty segments, trailing slashes. In one
// process the auth app routes case-sensitively and each internal handler
// checks its caller; when the proxy runs apart, it also refuses to forward
// anything that decodes to an internal path. The web page is served only at
// its own spelling, always with its CSP and no-store.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@ztsh/protocol';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';

const FORGED = 'forged-event-item-3';

function forgedBatch(): string {
  return JSON.stringify({
    events: [{ type: 'lock.removed', success: true, durable: true, input: { user: 'mallory', message: FORGED, fields: {} } }],
  });
}

function leaksState(body: string): boolean {
  return body.includes('userCaCertificates') || body.includes('BEGIN CERTIFICATE') || body.includes('hostCaCertificates');
}

function auditOf(stack: TestStack): Promise<AuditEvent[]> {
  return stack.ztshd.auth.storage.audit.list({ limit: 100_000 });
}

/** Spellings of the internal watch path that a lenient router or proxy might take for it. */
const SPELLINGS = [
  '/V1/internal/watch',
  '/v1/INTERNAL/watch',
  '/v1/Internal/watch',
  '/v1/internal/WATCH',
  '/v1/internal/watch/',
  '/V1/INTERNAL/WATCH/',
];

describe('item 3 (one process): /v1/internal is for proxies only, in any spelling', () => {
  let stack: TestStack;
  let alice: Credentials;
  beforeAll(async () => {
    stack = await startTestStack();
    alice = await credentialsOf({ url: stack.url, tlsCa: stack.tlsCa }, 'alice');
  });
  afterAll(() => stack?.close());
  const target = (): Target => ({ url: stack.url, tlsCa: stack.tlsCa });

  it('item 3: GET of the watch in another case answers no state, with or without a user certificate', async () => {
    for (const path of SPELLINGS) {
      for (const as of [undefined, alice]) {
        const res = await rawRequest(target(), { path, as, headersOnly: true });
        expect(res.status, `${path} as ${as ? 'alice' : 'nobody'}`).toBe(404);
        expect(leaksState(res.body), path).toBe(false);
      }
    }
  });

  it('item 3: the exact internal path without a proxy certificate is refused and audited', async () => {
    const res = await rawRequest(target(), { path: '/v1/internal/watch', as: alice, headersOnly: true });
    expect(res.status).toBe(401);
    expect(leaksState(res.body)).toBe(false);
    const nobody = await rawRequest(target(), { path: '/v1/internal/watch', headersOnly: true });
    expect(nobody.status).toBe(403);
    const refused = (await auditOf(stack)).filter((e) => e.type === 'api.request' && !e.success && e.fields.path === '/v1/internal/watch');
    expect(refused.map((e) => e.fields.reason)).toEqual(expect.arrayContaining(['untrusted', 'not_a_proxy']));
  });

  it('item 3: a forged audit batch to /V1/internal/audit is refused and never reaches the log; the chain still verifies', async () => {
    for (const path of ['/V1/internal/audit', '/v1/INTERNAL/audit', '/v1/internal/Audit', '/v1/internal/audit/', '/v1/internal/audit']) {
      const res = await rawRequest(target(), { method: 'POST', path, headers: { 'Content-Type': 'application/json' }, body: forgedBatch() });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
    }
    expect((await auditOf(stack)).some((e) => e.message === FORGED)).toBe(false);
    expect((await stack.ztshd.auth.storage.audit.verify()).ok).toBe(true);
  });

  it('item 3: the web page is served only as /web, always with its CSP and no-store', async () => {
    for (const path of ['/WEB/', '/WEB', '/Web', '/web/LOGIN', '/WEB/login']) {
      const res = await rawRequest(target(), { path, headers: { Accept: 'text/html' } });
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('Sign in with');
    }
    for (const path of ['/web', '/web/', '/web/login']) {
      const res = await rawRequest(target(), { path, headers: { Accept: 'text/html' } });
      expect(res.status, path).toBeLessThan(400);
      expect(res.headers['content-security-policy'], path).toContain("default-src 'self'");
      expect(res.headers['cache-control'], path).toBe('no-store');
    }
    const slash = await rawRequest(target(), { path: '/web/' });
    expect(slash.status).toBe(302);
    expect(slash.headers.location).toBe('/web');
  });

  it('item 3: the user APIs answer only at their own spelling', async () => {
    expect((await rawRequest(target(), { path: '/v1/connectors' })).status).toBe(200);
    for (const path of ['/V1/connectors', '/v1/Connectors', '/v1/connectors/', '/V1/audit/events', '/v1/LOCKS']) {
      expect((await rawRequest(target(), { path, as: alice })).status, path).toBe(404);
    }
  });
});

describe('item 3 (split): the proxy forwards nothing that decodes to /v1/internal', () => {
  let stack: TestStack;
  let alice: Credentials;
  beforeAll(async () => {
    stack = await startTestStack({ split: true });
    alice = await credentialsOf({ url: stack.url, tlsCa: stack.tlsCa }, 'alice');
  });
  afterAll(() => stack?.close());
  const proxy = (): Target => ({ url: stack.url, tlsCa: stack.tlsCa });

  const NOT_FOUND = [
    ...SPELLINGS,
    '/v1/internal/watch',
    '/v1/internal',
    '/v1/internal/',
    '/v1/%69nternal/watch',
    '/v1/%49NTERNAL/watch',
    '/%76%31/%69%6e%74%65%72%6e%61%6c/watch',
    '/v1/%2569nternal/watch',
    '/v1/internal;x=1/watch',
    '/v1/internal/watch?x=1',
  ];
  const BAD = [
    '/v1/x/../internal/watch',
    '/v1/./internal/watch',
    '/v1/%2e%2e/v1/internal/watch',
    '/v1/x/%2E%2E/internal/watch',
    '//v1/internal/watch',
    '/v1//internal/watch',
    '/v1/internal%2fwatch',
    '/v1%2Finternal/watch',
    '/v1/internal%5cwatch',
    '/v1\\internal/watch',
    '/v1/%00internal/watch',
    '/v1/internal/watch%0d%0a',
    '/v1/%zzinternal/watch',
    '/v1/%c0%afinternal/watch',
  ];

  it('item 3: spellings that decode to the internal API get 404 from the proxy, certificate or not', async () => {
    for (const path of NOT_FOUND) {
      for (const as of [undefined, alice]) {
        const res = await rawRequest(proxy(), { path, as, headersOnly: true });
        expect(res.status, path).toBe(404);
        expect(leaksState(res.body), path).toBe(false);
      }
    }
  });

  it('item 3: paths with dot segments, empty segments, encoded slashes, bad escapes or control characters get 400', async () => {
    for (const path of BAD) {
      const res = await rawRequest(proxy(), { path, as: alice, headersOnly: true });
      expect(res.status, path).toBe(400);
      expect(leaksState(res.body), path).toBe(false);
    }
  });

  it('item 3: a forged audit batch through the proxy is refused and never reaches the log', async () => {
    for (const path of ['/V1/internal/audit', '/v1/%69nternal/audit', '/v1/x/../internal/audit', '/v1/internal/audit']) {
      const res = await rawRequest(proxy(), { method: 'POST', path, as: alice, headers: { 'Content-Type': 'application/json' }, body: forgedBatch() });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
    }
    expect((await auditOf(stack)).some((e) => e.message === FORGED)).toBe(false);
  });

  it('item 3: straight to the auth listener, other spellings find nothing and the real one needs a proxy certificate', async () => {
    const auth: Target = { url: stack.split!.auth.url, tlsCa: stack.split!.auth.tls.selfSignedCa! };
    for (const path of SPELLINGS) {
      const res = await rawRequest(auth, { path, as: alice, headersOnly: true });
      expect(res.status, path).toBe(404);
      expect(leaksState(res.body), path).toBe(false);
    }
    const real = await rawRequest(auth, { path: '/v1/internal/watch', as: alice, headersOnly: true });
    expect(real.status).toBe(401);
  });

  it('a proxy certificate writes only the events a proxy makes: a forged login, certificate or lock event is refused', async () => {
    const auth: Target = { url: stack.split!.auth.url, tlsCa: stack.split!.auth.tls.selfSignedCa! };
    const [identityDir] = readdirSync(stack.dataDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('proxy-identity'));
    const dir = join(stack.dataDir, identityDir!);
    const proxyCert: Credentials = { cert: readFileSync(join(dir, 'proxy.crt'), 'utf8'), key: readFileSync(join(dir, 'proxy.key'), 'utf8') };
    const batch = (type: string, message: string) => JSON.stringify({ events: [{ type, success: true, durable: true, input: { user: 'mallory', message, fields: {} } }] });
    for (const type of ['cert.issued', 'user.login', 'lock.removed', 'agent.join', 'join_token.created', 'proxy.join']) {
      const res = await rawRequest(auth, { method: 'POST', path: '/v1/internal/audit', as: proxyCert, headers: { 'Content-Type': 'application/json' }, body: batch(type, `forged-${type}`) });
      expect(res.status, type).toBe(400);
    }
    // The proxy's own kind of event still goes in: the refusals above are about the type alone.
    const own = await rawRequest(auth, { method: 'POST', path: '/v1/internal/audit', as: proxyCert, headers: { 'Content-Type': 'application/json' }, body: batch('kube.request', 'from-the-proxy') });
    expect(own.status).toBeLessThan(300);
    const log = await stack.ztshd.auth.storage.audit.list({ limit: 100_000 });
    expect(log.some((e) => e.message?.startsWith('forged-'))).toBe(false);
    expect(log.some((e) => e.message === 'from-the-proxy')).toBe(true);
  });

  it('item 3: the proxy still forwards what is not internal', async () => {
    expect((await rawRequest(proxy(), { path: '/v1/connectors' })).status).toBe(200);
    expect((await rawRequest(proxy(), { path: '/v1/connectors?x=%2F..%2F' })).status).toBe(200);
    expect((await rawRequest(proxy(), { path: '/web/login', headers: { Accept: 'text/html' } })).status).toBe(200);
  });

  it('item 3: no mix of case and percent-escapes of /v1/internal/watch gets past the proxy (property)', async () => {
    const spelled = (text: string) =>
      fc.array(fc.constantFrom('lower', 'upper', 'escape', 'ESCAPE'), { minLength: text.length, maxLength: text.length }).map((how) =>
        [...text]
          .map((ch, i) => {
            if (ch === '/') return ch;
            const hex = ch.charCodeAt(0).toString(16);
            switch (how[i]) {
              case 'upper':
                return ch.toUpperCase();
              case 'escape':
                return `%${hex}`;
              case 'ESCAPE':
                return `%${hex.toUpperCase()}`;
              default:
                return ch;
            }
          })
          .join(''),
      );
    await fc.assert(
      fc.asyncProperty(spelled('v1/internal/watch'), fc.constantFrom('', '/', '?a=b'), async (path, tail) => {
        const res = await rawRequest(proxy(), { path: `/${path}${tail}`, as: alice, headersOnly: true });
        expect(res.status).toBe(404);
        expect(leaksState(res.body)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});
