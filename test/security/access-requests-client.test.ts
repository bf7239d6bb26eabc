// The user's side of access requests, attacked:
// - the reviewers' page: a review sent with a reviewer's cookie from another
//   site (or by a client that does not say where it comes from) is not acted
//   on; the page's own origin is; a locked reviewer gets neither;
// - request text (reason, from the requester) never drives a reviewer's
//   terminal;
// - request ids never change the path the CLI asks for;
// - a proxy that lies in its answer to `ztsh login --request-id` (a
//   certificate for another key, or one without the request) gets nothing
//   stored.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { AccessRequestInfo } from '@ztsh/protocol';
import { ZtshHome } from '@ztsh/cli';
import { DEV_USERS } from '@ztsh/server';
import { createTestTls } from '@ztsh/testkit';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, newZtshHome } from '../helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { loggedInEnv } from '../helpers/profile.ts';
import { requestRoles } from '../helpers/access-request-roles.ts';

const [, bob] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];
const WEB_COOKIE = '__Host-ztsh_web';
/** A terminal acts on these: C0 but newline and tab, DEL, C1. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

let k: KubeEnv;
let aliceEnv: Record<string, string>;
let bobEnv: Record<string, string>;
let dispatcher: Agent;

beforeAll(async () => {
  k = await startKubeEnv({ roles: requestRoles() });
  aliceEnv = k.env as Record<string, string>;
  bobEnv = await loggedInEnv(k.stack, bob);
  dispatcher = new Agent({ connect: { ca: k.stack.tlsCa } });
}, 120_000);
afterAll(async () => {
  await dispatcher?.close();
  await k?.close();
});

const ask = (reason: string) => cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', reason], aliceEnv);
const show = (id: string) => cliJson<AccessRequestInfo>(['request', 'show', id], aliceEnv);

describe('reviews with the web page\'s cookie (CSRF)', () => {
  let cookie: string;

  beforeAll(async () => {
    // bob's web session, as a sign-in on /web leaves it (that sign-in has its own browser tests).
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await k.stack.ztshd.auth.storage.webSessions.insert({
      hash: createHash('sha256').update(token).digest('base64url'),
      user: 'bob',
      roles: ['devops-admin'],
      loginId: 'web-login-for-test',
      clientIp: '127.0.0.1',
      createdAt: now,
      expiresAt: now + 3_600_000,
    });
    cookie = `${WEB_COOKIE}=${token}`;
  });

  const review = (id: string, headers: Record<string, string>, body: string = JSON.stringify({ decision: 'approve', reason: 'csrf' }), type = 'application/json') =>
    fetch(new URL(`/v1/access-requests/${id}/reviews`, k.stack.url), { method: 'POST', headers: { cookie, 'content-type': type, ...headers }, body, dispatcher });

  it.each([
    ['another site\'s Origin', { origin: 'https://evil.example' }],
    ['a sibling subdomain', { origin: 'https://evil.localhost', 'sec-fetch-site': 'same-site' }],
    ['a cross-site fetch', { 'sec-fetch-site': 'cross-site' }],
    ['no word of where it comes from', {}],
    ['the Origin "null" of a sandboxed frame', { origin: 'null' }],
    ['the right host on another scheme', { origin: `http://${k?.stack.url.host ?? 'localhost'}` }],
  ])('refuses a review with %s, and the request stays pending', async (_what, headers) => {
    const asked = await ask('csrf target');
    const res = await review(asked.id, headers);
    // 401: the cookie was not taken at all (a request from another site); 403: taken, but the change did not come from the page.
    expect([401, 403]).toContain(res.status);
    expect((await show(asked.id)).state).toBe('pending');
  });

  it('refuses a cross-site HTML form post (urlencoded body)', async () => {
    const asked = await ask('csrf form target');
    const res = await review(asked.id, { origin: 'https://evil.example' }, 'decision=approve&reason=csrf', 'application/x-www-form-urlencoded');
    expect([400, 401, 403, 415]).toContain(res.status);
    expect((await show(asked.id)).state).toBe('pending');
  });

  it('acts on the page\'s own origin (what the page sends), so the refusals above are the check at work', async () => {
    const asked = await ask('page review');
    const res = await review(asked.id, { origin: k.stack.url.origin, 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(200);
    expect(await show(asked.id)).toMatchObject({ state: 'approved', reviews: [{ reviewer: 'bob' }] });
  });

  it('GET /web/requests: no cookie → sign-in; another site\'s link → a page of ours to go on from, not the page', async () => {
    const noCookie = await fetch(new URL('/web/requests', k.stack.url), { dispatcher, redirect: 'manual' });
    expect(noCookie.status).toBe(302);
    expect(noCookie.headers.get('location')).toBe('/web/login');
    const fromElsewhere = await fetch(new URL('/web/requests', k.stack.url), { headers: { cookie, 'sec-fetch-site': 'cross-site' }, dispatcher, redirect: 'manual' });
    expect(fromElsewhere.status).toBe(200);
    const body = await fromElsewhere.text();
    expect(body).toContain('id="continue"');
    expect(body).not.toContain('requests.js');
    expect(fromElsewhere.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('a lock on bob ends his use of the page at once', async () => {
    const lock = await k.stack.ztshd.auth.deps.locks.add({ target: { user: 'bob' }, message: 'incident 9', createdBy: 'test' });
    try {
      const res = await fetch(new URL('/web/requests', k.stack.url), { headers: { cookie }, dispatcher });
      expect(res.status).toBe(403);
      const asked = await ask('locked reviewer');
      expect((await review(asked.id, { origin: k.stack.url.origin })).status).toBe(403);
      expect((await show(asked.id)).state).toBe('pending');
    } finally {
      await k.stack.ztshd.auth.deps.locks.remove(lock.id, 'test');
    }
  });
});

describe('request text in a reviewer\'s terminal', () => {
  const PAYLOAD = 'INC-9\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\u009b31m\rhidden';

  it('ztsh request create refuses a reason with control characters, and sends nothing', async () => {
    const before = (await cliJson<AccessRequestInfo[]>(['request', 'ls'], aliceEnv)).length;
    const r = await cli(['request', 'create', '--roles', 'prod-admin', '--reason', PAYLOAD], aliceEnv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('control characters');
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect((await cliJson<AccessRequestInfo[]>(['request', 'ls'], aliceEnv)).length).toBe(before);
  });

  it('ztsh request ls and show print a stored reason with its escapes visible; JSON keeps the exact text', async () => {
    // Written straight into the store (as a database restored from elsewhere
    // could hold it): the API refuses such a reason, the CLI must not trust that.
    const asked = await ask('plain reason');
    const stored = (await k.stack.ztshd.auth.storage.accessRequests.get(asked.id))!;
    await k.stack.ztshd.auth.storage.accessRequests.insert({ ...stored, id: randomUUID(), reason: PAYLOAD });
    const hostile = (await cliJson<AccessRequestInfo[]>(['request', 'ls', '--state', 'pending'], bobEnv)).find((r) => r.reason === PAYLOAD)!;
    expect(hostile).toBeDefined();
    Object.assign(asked, hostile);
    for (const args of [['request', 'ls', '--state', 'pending'], ['request', 'show', asked.id]]) {
      const r = await cli(args, bobEnv);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      expect(r.stdout).toContain('INC-9\\x1b]52;c;ZXZpbA==\\x07');
    }
    const json = await cli(['request', 'show', asked.id, '--format', 'json'], bobEnv);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    expect((JSON.parse(json.stdout) as AccessRequestInfo).reason).toBe(PAYLOAD);
  });
});

describe('request ids never change the path asked for', () => {
  it.each([['request', 'show'], ['request', 'drop'], ['request', 'review', '--approve', '--reason', 'x']])('ztsh %s %s ../../v1/locks: a usage error, nothing sent', async (...command) => {
    const r = await cli([...command.slice(0, 2), '../../v1/locks', ...command.slice(2)], bobEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a request id');
  });

  it.each(['..', '%2e%2e', 'a%2Fb', 'id?state=approved', 'id#x', 'id;x', 'id\u001b[2J'])('ztsh request show %j: a usage error, shown safely', async (id) => {
    const r = await cli(['request', 'show', id], bobEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a request id');
    expect(r.stderr).not.toMatch(RAW_CONTROL);
  });
});

describe('a proxy that lies about the re-issued certificate', () => {
  let server: Server;
  let answer: unknown;
  let home: string;
  let proxy: URL;

  /** A Certificates answer made of a stored login (its certificate, CAs and what the server said of it). */
  const certificatesOf = (profile: NonNullable<ReturnType<ZtshHome['readProfile']>>) => ({
    certificate: profile.certPem,
    userCaCertificates: [profile.userCaPem],
    hostCaCertificates: [profile.hostCaPem],
    user: profile.meta.user,
    roles: profile.meta.roles,
    kubernetesGroups: profile.meta.kubernetesGroups,
    kubernetesUsers: profile.meta.kubernetesUsers,
    mfaVerified: profile.meta.mfaVerified,
    validUntil: profile.meta.validUntil,
  });

  beforeAll(async () => {
    const tls = await createTestTls();
    server = createServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(req.url === '/v1/certificates/reissue' && req.method === 'POST' ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new URL(`https://localhost:${(server.address() as { port: number }).port}`);
    // alice's real login of the stack, kept as her profile for the lying proxy.
    home = newZtshHome();
    const h = new ZtshHome(home);
    h.writeProfile(proxy, new ZtshHome(k.home).readProfile(k.stack.url)!);
    h.setCurrent(proxy);
    h.writeTrust(proxy, tls.caCert);
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  const stored = () => readFileSync(join(new ZtshHome(home).profileDir(proxy), 'cert.pem'), 'utf8');
  const env = () => ({ ZTSH_HOME: home, HOME: home });

  it('a certificate for another key (bob\'s) is refused and not stored', async () => {
    answer = certificatesOf(new ZtshHome(bobEnv.ZTSH_HOME!).readProfile(k.stack.url)!);
    const before = stored();
    const r = await cli(['login', '--request-id', 'abc123'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: the proxy issued a certificate for another key');
    expect(stored()).toBe(before);
  });

  it('a certificate that does not carry the request asked for is refused and not stored', async () => {
    answer = certificatesOf(new ZtshHome(home).readProfile(proxy)!);
    const before = stored();
    const r = await cli(['login', '--request-id', 'abc123'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not carry request abc123');
    expect(stored()).toBe(before);
  });
});
