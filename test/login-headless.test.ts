// `ztsh login --headless`: the device-code flow. The CLI prints a URL and a
// short code; the user approves in a browser anywhere; the CLI polls.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshContext, launchBrowser, type Browser } from './helpers/browser.ts';
import { newZtshHome, runCli } from './helpers/cli.ts';
import { enterTotp, signInAtIdp } from './helpers/login-page.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('headless login (device code)', () => {
  it('is approved from a browser by typing the code, and the CLI gets the certificate', async () => {
    const bob = DEV_USERS[1]!;
    const home = newZtshHome();
    const run = runCli(['login', '--headless', '--proxy', stack.url.origin, '--ca-file', stack.tlsCaFile, '--timeout', '60s'], { ZTSH_HOME: home });
    const [, verificationUri, userCode] = await run.waitFor(/open (https:\/\/\S+\/device) in any browser and enter the code ([A-Z]{4}-[A-Z]{4})/);
    const context = await freshContext(browser);
    const page = await context.newPage();
    await page.goto(verificationUri!);
    await page.locator('#user_code').fill(userCode!.toLowerCase().replace('-', ' '));
    await page.getByRole('button', { name: 'Continue' }).click();
    // The confirmation names the machine and client asking to be signed in.
    await page.getByText(/Signing in ztsh on \S+\s+from 127\.0\.0\.1/).waitFor();
    await page.getByRole('button', { name: 'Approve and sign in' }).click();
    await signInAtIdp(page, bob);
    await enterTotp(page, bob.totpSecret!);
    await page.locator('#approved').waitFor();
    expect(await page.locator('#approved').innerText()).toMatch(/ztsh on \S+ is now signed in as bob/);
    await context.close();

    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stdout()).toMatch(/Logged in to .* as bob/);
    const cert = new X509Certificate(readFileSync(join(home, 'profiles', `localhost_${stack.url.port}`, 'cert.pem')));
    expect(cert.subject).toBe('CN=bob\nO=system:masters');
  });

  it('says an unknown code is unknown and lets the user retype it', async () => {
    const context = await freshContext(browser);
    const page = await context.newPage();
    await page.goto(new URL('/device', stack.url).toString());
    await page.locator('#user_code').fill('ZZZZ-ZZZZ');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('That code is unknown or expired.').waitFor();
    expect(await page.locator('#user_code').inputValue()).toBe('ZZZZ-ZZZZ');
    await context.close();
  });
});
