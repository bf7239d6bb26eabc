// The reviewers' web page, in Chromium: alice asks for prod-admin with the
// CLI; bob (devops-admin: reviews requests, may not audit) signs in on /web
// through the dev IdP and his TOTP code, lands on /web/requests, writes a
// reason and approves; the CLI then shows the request approved by bob.
// carol (auditor and reviewer) gets both pages but never her own request to
// decide; alice (no review_requests) is refused by the page.
import type { BrowserContext, Page, Response } from 'playwright-core';
import type { AccessRequestInfo } from '@ztsh/protocol';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliJson } from './helpers/cli.ts';
import { freshContext, launchBrowser, type Browser } from './helpers/browser.ts';
import { totpNow } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { signInAtIdp } from './helpers/login-page.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { requestRoles } from './helpers/access-request-roles.ts';

const [alice, bob, carol] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];

let k: KubeEnv;
let browser: Browser;
let aliceEnv: Record<string, string>;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  k = await startKubeEnv({ roles: requestRoles() });
  aliceEnv = k.env as Record<string, string>;
  browser = await launchBrowser();
}, 120_000);
afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await k?.close();
});

async function newPage(): Promise<Page> {
  const context = await freshContext(browser);
  contexts.push(context);
  const page = await context.newPage();
  // Any script or style the page's CSP refuses is a bug of the page.
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
  });
  return page;
}
const refused: string[] = [];

/** Signs in on /web as a person would; `at` picks the TOTP step (a step is good once per user). Returns the answer at `endsAt`. */
async function signInOnWeb(page: Page, user: typeof alice, { at = Date.now(), endsAt = /^\/web(\/requests)?$/ } = {}): Promise<Response> {
  await page.goto(new URL('/web', k.stack.url).toString());
  await page.getByRole('link', { name: /Sign in with/ }).click();
  await signInAtIdp(page, user);
  await page.locator('#code').fill(totpNow(user.totpSecret!, at));
  const answer = page.waitForResponse((r) => r.request().isNavigationRequest() && endsAt.test(new URL(r.url()).pathname));
  await page.getByRole('button', { name: 'Verify' }).click();
  const response = await answer;
  await page.waitForLoadState();
  return response;
}

const show = (id: string) => cliJson<AccessRequestInfo>(['request', 'show', id], aliceEnv);

describe('the reviewers\' web page', () => {
  let request: AccessRequestInfo;
  let hostile: AccessRequestInfo;

  beforeAll(async () => {
    request = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', 'INC-7 the web tier is down', '--duration', '2h'], aliceEnv);
    // A reason is the requester's text: on the page it must stay text.
    hostile = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', '<img src=x id=injected onerror="document.title=1">'], aliceEnv);
  });

  it('bob signs in, lands on the requests page, and approves alice\'s request with a reason', async () => {
    const page = await newPage();
    const landed = await signInOnWeb(page, bob, { endsAt: /^\/web\/requests$/ });
    expect(landed.status()).toBe(200);
    expect(landed.headers()['content-security-policy']).toContain("default-src 'self'");
    expect(await page.locator('#who').textContent()).toBe('bob');
    // bob may not audit: no links to the auditors' views.
    expect(await page.locator('#nav-sessions').count()).toBe(0);

    const row = page.locator(`#requests tr[data-request="${request.id}"]`);
    await row.waitFor();
    expect(await row.innerText()).toMatch(/alice\s+role prod-admin\s+2h\s+INC-7 the web tier is down\s+0 of 1\s+pending/);

    const hostileRow = page.locator(`#requests tr[data-request="${hostile.id}"]`);
    expect(await hostileRow.innerText()).toContain('<img src=x id=injected onerror="document.title=1">');
    expect(await page.locator('#injected').count()).toBe(0);

    // Approve without a reason: the page asks for one and sends nothing.
    await row.getByRole('button', { name: 'Approve' }).click();
    await row.getByRole('alert').waitFor();
    expect(await row.getByRole('alert').innerText()).toBe('Give a reason first.');
    expect((await show(request.id)).state).toBe('pending');

    await row.getByRole('textbox').fill('approved on the web: INC-7');
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/v1/access-requests/${request.id}/reviews`));
    await row.getByRole('button', { name: 'Approve' }).click();
    expect((await posted).status()).toBe(200);
    await row.locator('[data-state="approved"], td.state', { hasText: 'approved' }).first().waitFor();
    expect(await row.getByRole('status').innerText()).toBe('Approved.');
    expect(await row.locator('td.approvals').innerText()).toBe('1 of 1');

    const after = await show(request.id);
    expect(after.state).toBe('approved');
    expect(after.reviews).toMatchObject([{ reviewer: 'bob', decision: 'approve', reason: 'approved on the web: INC-7' }]);
    expect(after.accessUntil).not.toBeNull();

    // Reloaded, the page lists only what is still pending.
    await page.getByRole('button', { name: 'Reload' }).click();
    await hostileRow.waitFor();
    expect(await page.locator(`#requests tr[data-request="${request.id}"]`).count()).toBe(0);
    expect(refused).toEqual([]);
  });

  it('bob denies one too', async () => {
    const asked = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', 'to be denied'], aliceEnv);
    const page = await newPage();
    await signInOnWeb(page, bob, { at: Date.now() + 30_000, endsAt: /^\/web\/requests$/ });
    const row = page.locator(`#requests tr[data-request="${asked.id}"]`);
    await row.waitFor();
    await row.getByRole('textbox').fill('not without an incident');
    await row.getByRole('button', { name: 'Deny' }).click();
    await row.locator('td.state', { hasText: 'denied' }).waitFor();
    expect(await row.getByRole('status').innerText()).toBe('Denied.');
    expect(await show(asked.id)).toMatchObject({ state: 'denied', reviews: [{ reviewer: 'bob', decision: 'deny', reason: 'not without an incident' }] });
  });
});

describe('who sees the requests page', () => {
  it('carol, auditor and reviewer, has both pages, and never her own request to decide', async () => {
    const carolEnv = await loggedInEnv(k.stack, carol);
    const own = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', 'carol needs prod'], carolEnv);
    const alices = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', 'for carol to review'], aliceEnv);
    const page = await newPage();
    const landed = await signInOnWeb(page, carol, { at: Date.now() + 30_000, endsAt: /^\/web$/ });
    expect(landed.status()).toBe(200);
    await page.locator('#nav-requests').click();
    await page.waitForURL((u) => u.pathname === '/web/requests');
    await page.locator(`#requests tr[data-request="${alices.id}"]`).waitFor();
    expect(await page.locator(`#requests tr[data-request="${own.id}"]`).count()).toBe(0);
    expect(await page.locator('#nav-sessions').count()).toBe(1);
  });

  it('refuses alice (her roles may not review): a 403 page', async () => {
    const page = await newPage();
    const landed = await signInOnWeb(page, alice, { at: Date.now() + 30_000, endsAt: /^\/web$/ });
    expect(landed.status()).toBe(403);
    await page.goto(new URL('/web/requests', k.stack.url).toString());
    expect(await page.locator('#no-access').textContent()).toBe('alice may not review access requests');
    const refusal = (await k.stack.ztshd.auth.storage.audit.search({ user: 'alice', type: 'api.request', limit: 1 }))[0];
    expect(refusal).toMatchObject({ success: false, fields: { path: '/web/requests', reason: 'denied', permission: 'review_requests' } });
  });
});
