// WebAuthn as the second factor, with Chromium's virtual authenticator (the
// DevTools protocol): a user with no second factor registers a security key
// during her first login, then logs in again with it.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromCertificate } from '@ztsh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { freshContext, launchBrowser, pageWithKey, type Browser } from './helpers/browser.ts';
import { newZtshHome, runCli } from './helpers/cli.ts';
import { signInAtIdp } from './helpers/login-page.ts';
import { EXTRA_USERS, startTestStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  stack = await startTestStack({ users: [EXTRA_USERS.erin] });
  browser = await launchBrowser();
  context = await freshContext(browser);
  page = await pageWithKey(context);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function login(home: string, act: () => Promise<void>) {
  const run = runCli(['login', '--proxy', stack.url.origin, '--no-browser', '--ca-file', stack.tlsCaFile, '--timeout', '60s'], { ZTSH_HOME: home });
  const [url] = await run.waitFor(/https:\/\/localhost:\d+\/login\/\S+/);
  await page.goto(url);
  await act();
  await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
  return { code: await run.exit, stderr: run.stderr() };
}

function identityIn(home: string) {
  const cert = new X509Certificate(readFileSync(join(home, 'profiles', `localhost_${stack.url.port}`, 'cert.pem')));
  return identityFromCertificate(new Uint8Array(cert.raw))!;
}

describe('WebAuthn second factor', () => {
  it('enrolls a security key during the first login of a user who has none', async () => {
    const home = newZtshHome();
    const result = await login(home, async () => {
      await signInAtIdp(page, EXTRA_USERS.erin);
      await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
      // The TOTP alternative is offered too, its secret shown once.
      await page.locator('#totp-secret').waitFor();
      await page.getByRole('button', { name: 'Register a security key' }).click();
    });
    expect(result.code, result.stderr).toBe(0);
    expect(identityIn(home)).toMatchObject({ user: 'erin', mfaVerified: true, mfaMethod: 'webauthn' });
    const devices = await stack.ztshd.auth.storage.mfa.list('erin');
    expect(devices.map((d) => d.kind)).toEqual(['webauthn']);
    const events = (await stack.ztshd.auth.storage.audit.list()).map((e) => `${e.type}:${e.success}`);
    expect(events).toContain('user.mfa.enroll:true');
  });

  it('logs in again with the registered key, and the IdP session alone is not enough', async () => {
    const home = newZtshHome();
    const result = await login(home, async () => {
      // Same browser: the IdP remembers her, but the second factor is asked again.
      await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
      await page.getByRole('button', { name: 'Use security key' }).click();
    });
    expect(result.code, result.stderr).toBe(0);
    expect(identityIn(home)).toMatchObject({ user: 'erin', mfaMethod: 'webauthn' });
    const events = (await stack.ztshd.auth.storage.audit.list()).filter((e) => e.type === 'user.mfa' && e.success);
    expect(events.at(-1)?.fields).toMatchObject({ method: 'webauthn' });
  });
});
