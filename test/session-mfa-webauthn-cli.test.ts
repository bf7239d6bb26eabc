// Per-session MFA with a security key, end to end: erin has only a security
// key (she registers it in Chromium's virtual authenticator at her first
// login). `ztsh kube mfa --no-browser` prints the check's page, which the
// test opens in that same browser; the real kubectl 1.33 on a terminal runs
// the plugin, which writes the page on the terminal (ZTSH_NO_BROWSER=1),
// waits for the key, and hands kubectl the certificate; the next call does
// not ask again.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSessionMfaCache, ZtshHome } from '@ztsh/cli';
import { findKubectl } from '@ztsh/testkit';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshContext, launchBrowser, pageWithKey, type Browser } from './helpers/browser.ts';
import { cli, newZtshHome, runCli } from './helpers/cli.ts';
import { signInAtIdp } from './helpers/login-page.ts';
import { startSessionMfaEnv, type SessionMfaEnv } from './helpers/session-mfa-env.ts';
import { EXTRA_USERS } from './helpers/stack.ts';
import { runOnTty } from './helpers/tty.ts';

const erin = EXTRA_USERS.erin;
const CHECK_PAGE = /https:\/\/localhost:\d+\/login\/[A-Za-z0-9_-]+/;

let k: SessionMfaEnv;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let home: ZtshHome;
let env: Record<string, string>;
/** Whatever ztsh asked the system to open (a script as BROWSER): it must stay empty with the no-browser switch. */
let opened: string;

const kubectl133 = () => findKubectl('1.33', process.env.PATH)!;
const getPods = (cluster: string) => [kubectl133(), '--context', `${k.stack.url.hostname}-${cluster}`, 'get', 'pods', '-o', 'name'];

/** The person at the browser: open the check's page and touch the key. */
async function confirmWithKey(url: string): Promise<void> {
  await page.goto(url);
  await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
  await page.locator('#clusters').waitFor();
  await page.getByRole('button', { name: 'Use security key' }).click();
  await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
  await page.getByRole('heading', { name: 'Session MFA verified' }).waitFor();
}

beforeAll(async () => {
  k = await startSessionMfaEnv({ users: [erin] });
  browser = await launchBrowser();
  context = await freshContext(browser);
  page = await pageWithKey(context);
  const dir = newZtshHome();
  home = new ZtshHome(dir);
  opened = join(dir, 'opened.txt');
  const recorder = join(dir, 'browser.sh');
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${opened}'\n`);
  chmodSync(recorder, 0o755);
  env = { PATH: process.env.PATH ?? '', HOME: dir, ZTSH_HOME: dir, KUBECONFIG: join(dir, 'kubeconfig'), BROWSER: recorder };
  // erin's first login: she has no second factor and registers the security key.
  const run = runCli(['login', '--proxy', k.stack.url.origin, '--no-browser', '--ca-file', k.stack.tlsCaFile, '--timeout', '120s'], env);
  const [url] = await run.waitFor(/https:\/\/localhost:\d+\/login\/\S+/, 120_000);
  await page.goto(url);
  await signInAtIdp(page, erin);
  await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
  await page.getByRole('button', { name: 'Register a security key' }).click();
  await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
  expect(await run.exit, run.stderr()).toBe(0);
  expect((await k.stack.ztshd.auth.storage.mfa.list('erin')).map((d) => d.kind)).toEqual(['webauthn']);
  for (const cluster of ['prod-a', 'prod-b']) {
    const r = await cli(['kube', 'login', cluster], env);
    expect(r.code, r.stderr).toBe(0);
  }
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await k?.close();
});

describe('session MFA with a security key', () => {
  it('ztsh kube mfa --no-browser prints the page; confirming the key there gives a certificate bound to prod-a', async () => {
    const run = runCli(['kube', 'mfa', '--clusters', 'prod-a', '--no-browser'], env);
    const [url] = await run.waitFor(CHECK_PAGE, 120_000);
    expect(run.stderr()).toContain('Open this URL in a browser on this machine to confirm with your security key:');
    await confirmWithKey(url);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stdout()).toMatch(/^Session MFA verified for prod-a until /);
    const cache = readSessionMfaCache(home, k.stack.url);
    expect(cache?.clusters).toEqual(['prod-a']);
    const events = (await k.stack.ztshd.auth.storage.audit.list()).filter((e) => e.type === 'session_mfa.verify' && e.user === 'erin');
    expect(events.at(-1)).toMatchObject({ success: true });
    expect(existsSync(opened)).toBe(false);
  }, 240_000);

  it('kubectl on a terminal: the plugin shows the page there, the key is confirmed, kubectl gets the pods; the next call does not ask', async () => {
    // prod-b is not covered yet: one check for every cluster that requires it.
    const first = runOnTty(getPods('prod-b'), { ...env, ZTSH_NO_BROWSER: '1' });
    await first.waitFor(CHECK_PAGE, 120_000);
    const url = first.output().match(CHECK_PAGE)![0];
    await confirmWithKey(url);
    const code = await first.exited;
    const output = first.output();
    expect(code, output).toBe(0);
    expect(output).toContain('to confirm with your security key:');
    expect(output).toMatch(/Session MFA verified for prod-a, prod-b until /);
    expect(output).toContain('pod/web-1');
    expect(readSessionMfaCache(home, k.stack.url)?.clusters).toEqual(['prod-a', 'prod-b']);

    const script = [getPods('prod-a'), getPods('prod-b')].map((argv) => argv.map((a) => `'${a}'`).join(' ')).join(' && ');
    const next = runOnTty(['sh', '-c', script], { ...env, ZTSH_NO_BROWSER: '1' });
    const nextCode = await next.exited;
    expect(nextCode, next.output()).toBe(0);
    expect(next.output()).not.toMatch(CHECK_PAGE);
    expect(next.output().match(/pod\/web-1/g)).toHaveLength(2);
    expect(existsSync(opened) ? readFileSync(opened, 'utf8') : '').toBe('');
  }, 300_000);
});
