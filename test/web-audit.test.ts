// The auditors' web page, in Chromium: alice runs a command in the sandbox
// with the real kubectl; carol (auditor) signs in on /web through the dev IdP
// and her TOTP code, finds alice's session, replays it and sees its output.
// alice (developer) signs in too and is refused by the page and the API; a
// locked user gets no session at all; sign-out ends the session on the server.
// Two small stacks more: a security key as the second factor, and none.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { Agent, fetch } from 'undici';
import { DEV_ROLES, DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshContext, launchBrowser, type Browser } from './helpers/browser.ts';
import { totpNow } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { signInAtIdp } from './helpers/login-page.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { storeSession } from './helpers/stored-session.ts';

const [alice, bob, carol] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];
const kubectlBin = findKubectl('1.33', process.env.PATH)!;
const SCREENSHOT = fileURLToPath(new URL('../test-results/web-replay.png', import.meta.url));
const WEB_COOKIE = '__Host-ztsh_web';

let k: KubeEnv;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1', { logs: ['started'] });
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await k?.close();
});

async function newPage(): Promise<Page> {
  const context = await freshContext(browser);
  contexts.push(context);
  return context.newPage();
}

/**
 * Signs in on /web as a person would: the sign-in button, the IdP's form, the
 * TOTP page. `at` picks the TOTP step: a step is good once per user, and
 * alice spent the current one logging in for kubectl. Returns the answer
 * the browser got at `endsAt` (a path).
 */
async function signInOnWeb(page: Page, user: typeof alice, { at = Date.now(), endsAt = /^\/web$/ } = {}): Promise<Response> {
  await page.goto(new URL('/web', k.stack.url).toString());
  expect(new URL(page.url()).pathname).toBe('/web/login');
  await page.getByRole('link', { name: /Sign in with/ }).click();
  await signInAtIdp(page, user);
  await page.locator('#code').fill(totpNow(user.totpSecret!, at));
  const answer = page.waitForResponse((r) => r.request().isNavigationRequest() && endsAt.test(new URL(r.url()).pathname));
  await page.getByRole('button', { name: 'Verify' }).click();
  const response = await answer;
  await page.waitForLoadState();
  return response;
}

/** fetch() from inside the page, as its own script calls the API (globalThis: the page's, not undici's imported above). */
const pageFetch = (page: Page, path: string) =>
  page.evaluate(async (p) => {
    const res = await globalThis.fetch(p, { headers: { accept: 'application/json' } });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  }, path);

const cookieOf = async (page: Page) => (await page.context().cookies()).find((c) => c.name === WEB_COOKIE);

describe('the auditors\' web page', () => {
  let carolPage: Page;

  it('carol signs in, finds alice\'s session, presses play and the terminal shows its output', async () => {
    const ran = await runKubectl(kubectlBin, ['exec', 'web-1', '--', 'echo', 'web-replay-marker'], { env: k.env, timeoutMs: 30_000 });
    expect(ran.code, ran.stderr).toBe(0);

    const page = (carolPage = await newPage());
    const refused: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
    });
    const landed = await signInOnWeb(page, carol);
    expect(landed.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/web');
    expect(await page.locator('#who').textContent()).toBe('carol');

    const cookie = (await cookieOf(page))!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    const csp = landed.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('unsafe-inline');

    const filters = page.locator('#sessions-filters');
    await filters.locator('input[name="user"]').fill('alice');
    await filters.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/#sessions\?user=alice$/);
    const row = page.locator('#sessions tbody tr', { hasText: 'echo web-replay-marker' });
    await row.waitFor();
    expect(await page.locator('#sessions tbody tr').count()).toBe(1);
    expect(await row.innerText()).toMatch(/alice\s+sandbox\s+exec\s+default\/web-1/);
    await row.getByRole('link').click();
    await page.waitForURL(/#session\//);

    const meta = page.locator('#session-meta');
    await meta.waitFor();
    const metaText = await meta.innerText();
    for (const fact of ['alice', 'developer', 'sandbox', 'default', 'web-1', 'echo web-replay-marker']) expect(metaText).toContain(fact);
    expect(metaText).toMatch(/TTY\s+no/);
    expect(metaText).toMatch(/Exit code\s+0/);
    const events = await page.locator('#session-events').innerText();
    expect(events).toContain('session.start');
    expect(events).toContain('session.end');
    expect(events).toContain('kube.request');

    await page.locator('#player .ap-play-button').click();
    await page.waitForFunction(() => document.querySelector('#player .ap-term')?.textContent?.includes('web-replay-marker'), undefined, { timeout: 20_000 });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT) && statSync(SCREENSHOT).size > 0).toBe(true);
    expect(refused).toEqual([]);

    const login = (await k.stack.ztshd.auth.storage.audit.search({ user: 'carol', type: 'user.login', limit: 1 }))[0];
    expect(login).toMatchObject({ success: true, fields: { kind: 'web', mfa: 'totp', roles: ['auditor'] } });
  });

  it('lists and filters audit events', async () => {
    const page = carolPage;
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    const filters = page.locator('#events-filters');
    await filters.locator('input[name="user"]').fill('alice');
    await filters.locator('input[name="type"]').fill('session.');
    await filters.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/#events\?user=alice&type=session\.$/);
    await page.locator('#events tbody tr').first().waitFor();
    const types = await page.locator('#events tbody tr td:nth-child(2)').allInnerTexts();
    expect(types).toEqual(['session.end', 'session.start']);
  });

  it('finds the events of one access request by its id', async () => {
    const id = 'a8d3c0de-5e1f-4b2a-9c6d-7e8f9a0b1c2d';
    const time = new Date().toISOString();
    await k.stack.ztshd.auth.storage.audit.appendMany([
      { time, type: 'access_request.create', code: 'ZA5000I', success: true, user: 'alice', message: 'asked', fields: { accessRequest: id } },
      { time, type: 'kube.request', code: 'ZA2000I', success: true, user: 'alice', fields: { cluster: 'sandbox', verb: 'get', resource: 'pods', accessRequests: [id] } },
    ]);
    const page = carolPage;
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    const filters = page.locator('#events-filters');
    await filters.locator('input[name="request"]').fill(id);
    await filters.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(new RegExp(`#events\\?request=${id}$`));
    await page.locator('#events tbody tr').first().waitFor();
    expect(await page.locator('#events tbody tr td:nth-child(2)').allInnerTexts()).toEqual(['kube.request', 'access_request.create']);
  });

  it('shows times in the browser\'s zone, with the offset', async () => {
    const page = carolPage;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'Europe/Berlin' });
    await page.goto(new URL('/web#sessions?user=alice', k.stack.url).toString());
    await page.reload();
    const shown = await page.locator('#sessions tbody tr td.time').first().innerText();
    const [session] = await k.stack.ztshd.auth.storage.sessions.search({ user: 'alice', limit: 1 });
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2}:\d{2})$/.exec(shown);
    expect(m, shown).not.toBeNull();
    expect(['+01:00', '+02:00']).toContain(m![3]);
    expect(Date.parse(`${m![1]}T${m![2]}${m![3]}`)).toBe(Math.floor(session!.startedAt / 1000) * 1000);
    await cdp.detach();
  });

  it('replays a 200-column session at a legible size, scrolling sideways; an 80-column one fits', async () => {
    const page = carolPage;
    const wide = await storeSession(k.stack, { width: 200, height: 30, user: 'dave', output: [`${'0123456789'.repeat(20)}\r\n`, 'wide-end-marker\r\n'] });
    const narrow = await storeSession(k.stack, { width: 80, height: 24, user: 'dave', output: ['narrow-marker\r\n'] });
    const playerOf = async (id: string, marker: string) => {
      await page.goto(new URL(`/web#session/${id}`, k.stack.url).toString());
      await page.reload();
      await page.locator('#player .ap-term').waitFor();
      await page.locator('#player .ap-play-button').click();
      await page.waitForFunction((text) => document.querySelector('#player .ap-term')?.textContent?.includes(text), marker, { timeout: 20_000 });
      return page.evaluate(() => {
        const box = document.querySelector<HTMLElement>('#player')!;
        const term = document.querySelector<HTMLElement>('#player .ap-term')!;
        return { fontPx: parseFloat(getComputedStyle(term).fontSize), scrollWidth: box.scrollWidth, clientWidth: box.clientWidth };
      });
    };
    const w = await playerOf(wide.id, 'wide-end-marker');
    expect(w.fontPx).toBeGreaterThanOrEqual(12);
    expect(w.scrollWidth).toBeGreaterThan(w.clientWidth);
    const n = await playerOf(narrow.id, 'narrow-marker');
    expect(n.fontPx).toBeGreaterThanOrEqual(12);
    expect(n.scrollWidth).toBeLessThanOrEqual(n.clientWidth);
  });

  it('acts on the cookie only for this site\'s own requests', async () => {
    const cookie = (await cookieOf(carolPage))!;
    const dispatcher = new Agent({ connect: { ca: k.stack.tlsCa } });
    try {
      const get = (headers: Record<string, string>) =>
        fetch(new URL('/v1/recordings', k.stack.url), { headers: { cookie: `${WEB_COOKIE}=${cookie.value}`, ...headers }, dispatcher });
      expect((await get({ 'sec-fetch-site': 'same-origin' })).status).toBe(200);
      expect((await get({ 'sec-fetch-site': 'cross-site' })).status).toBe(401);
      expect((await get({ 'sec-fetch-site': 'same-site' })).status).toBe(401);
      const logout = await fetch(new URL('/web/logout', k.stack.url), {
        method: 'POST',
        headers: { cookie: `${WEB_COOKIE}=${cookie.value}`, origin: 'https://evil.example' },
        dispatcher,
        redirect: 'manual',
      });
      expect(logout.status).toBe(403);
      expect((await get({})).status).toBe(200);
    } finally {
      await dispatcher.close();
    }
  });

  it('signing out ends the session on the server, not just in the browser', async () => {
    const page = carolPage;
    const cookie = (await cookieOf(page))!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/web\/login$/);
    expect(await cookieOf(page)).toBeUndefined();
    const dispatcher = new Agent({ connect: { ca: k.stack.tlsCa } });
    try {
      const res = await fetch(new URL('/v1/recordings', k.stack.url), { headers: { cookie: `${WEB_COOKIE}=${cookie.value}` }, dispatcher });
      expect(res.status).toBe(401);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('who may use the web page', () => {
  it('refuses alice (no audit permission): a 403 page, and 403 from the API', async () => {
    const page = await newPage();
    const landed = await signInOnWeb(page, alice, { at: Date.now() + 30_000 });
    expect(landed.status()).toBe(403);
    expect(new URL(page.url()).pathname).toBe('/web');
    expect(await page.locator('#no-access').textContent()).toBe('alice lacks the "audit" permission');
    for (const path of ['/v1/recordings', '/v1/audit/events']) {
      const res = await pageFetch(page, path);
      expect(res.status, path).toBe(403);
      expect(res.body.error?.code).toBe('access_denied');
    }
  });

  it('gives a locked user no session', async () => {
    const lock = await k.stack.ztshd.auth.deps.locks.add({ target: { user: 'bob' }, message: 'incident 7', createdBy: 'test' });
    try {
      const page = await newPage();
      const landed = await signInOnWeb(page, bob, { endsAt: /\/mfa\/totp$/ });
      expect(landed.status()).toBe(403);
      expect(await page.locator('body').innerText()).toContain('access locked for user bob: incident 7');
      expect(await cookieOf(page)).toBeUndefined();
      const refused = (await k.stack.ztshd.auth.storage.audit.search({ user: 'bob', type: 'user.login', limit: 1 }))[0];
      expect(refused).toMatchObject({ success: false, fields: { kind: 'web', reason: 'locked' } });
    } finally {
      await k.stack.ztshd.auth.deps.locks.remove(lock.id, 'test');
    }
  });
});

describe('other second factors', () => {
  const auditor = (username: string) => ({ username, password: `${username}-dev-password`, groups: ['auditors'] });
  const stacks: TestStack[] = [];
  afterAll(async () => {
    for (const s of stacks) await s.close();
  });

  it('signs in with a security key registered on the way (the WebAuthn answer sets the cookie)', async () => {
    const stack = await startTestStack({ users: [auditor('erin')] });
    stacks.push(stack);
    const page = await newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await page.goto(new URL('/web/login', stack.url).toString());
    await page.getByRole('link', { name: /Sign in with/ }).click();
    await signInAtIdp(page, auditor('erin'));
    await page.getByRole('button', { name: 'Register a security key' }).click();
    await page.waitForURL((u) => u.pathname === '/web');
    await page.locator('#sessions').waitFor();
    expect(await page.locator('#who').textContent()).toBe('erin');
    const login = (await stack.ztshd.auth.storage.audit.search({ user: 'erin', type: 'user.login', limit: 1 }))[0];
    expect(login).toMatchObject({ success: true, fields: { kind: 'web', mfa: 'webauthn' } });
  });

  it('signs in straight from the IdP when no second factor is asked for', async () => {
    const roles = DEV_ROLES.map((r) => ({ ...r, spec: { ...r.spec, options: { ...r.spec.options, require_mfa: false } } }));
    const stack = await startTestStack({ users: [auditor('frank')], roles, auth: { mfa: 'optional' } });
    stacks.push(stack);
    const page = await newPage();
    await page.goto(new URL('/web/login', stack.url).toString());
    await page.getByRole('link', { name: /Sign in with/ }).click();
    await signInAtIdp(page, auditor('frank'));
    // The IdP's redirect lands on a page of ours that goes on to /web by itself.
    await page.waitForURL((u) => u.pathname === '/web');
    await page.locator('#sessions').waitFor();
    expect(await page.locator('#who').textContent()).toBe('frank');
    const login = (await stack.ztshd.auth.storage.audit.search({ user: 'frank', type: 'user.login', limit: 1 }))[0];
    expect(login).toMatchObject({ success: true, fields: { kind: 'web', mfa: 'none' } });
  });
});
