// `ztsh login` end to end: the real CLI, the dev IdP (oidc-provider), TOTP,
// and Chromium doing what a person does.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromCertificate } from '@ztsh/protocol';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshContext, launchBrowser, type Browser } from './helpers/browser.ts';
import { cli, newZtshHome, runCli } from './helpers/cli.ts';
import { enterTotp, signInAtIdp } from './helpers/login-page.ts';
import { startRecorder, type Recorder } from './helpers/recorder.ts';
import { EXTRA_USERS, startTestStack, type TestStack } from './helpers/stack.ts';

const [alice, bob, carol] = DEV_USERS as [typeof DEV_USERS[0], typeof DEV_USERS[0], typeof DEV_USERS[0]];
let stack: TestStack;
let recorder: Recorder;
let browser: Browser;
let aliceProfile: string | undefined;

beforeAll(async () => {
  stack = await startTestStack({ users: [...DEV_USERS, EXTRA_USERS.dave] });
  const tlsDir = join(stack.dataDir, 'tls');
  recorder = await startRecorder(stack.url, {
    cert: readFileSync(join(tlsDir, 'server.crt'), 'utf8'),
    key: readFileSync(join(tlsDir, 'server.key'), 'utf8'),
    ca: stack.tlsCa,
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await recorder?.close();
  await stack?.close();
});

async function browserLogin(user: { username: string; password: string; totpSecret?: string }, home: string, proxy = stack.url, extra: string[] = []) {
  const run = runCli(['login', '--proxy', proxy.origin, '--no-browser', '--ca-file', stack.tlsCaFile, '--timeout', '60s', ...extra], { ZTSH_HOME: home });
  const [url] = await run.waitFor(/https:\/\/localhost:\d+\/login\/\S+/);
  const context = await freshContext(browser);
  const page = await context.newPage();
  await page.goto(url);
  await signInAtIdp(page, user);
  if (user.totpSecret) await enterTotp(page, user.totpSecret);
  await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
  const pageText = await page.locator('body').innerText();
  await context.close();
  return { code: await run.exit, stdout: run.stdout(), stderr: run.stderr(), pageText };
}

function userCa(): X509Certificate {
  return new X509Certificate(readFileSync(join(stack.dataDir, 'ca', 'user-ca.crt')));
}

describe('ztsh login in a browser', () => {
  it('logs alice in with password and TOTP; her certificate chains to the user CA, carries her Identity and lasts 8 h', async () => {
    const home = newZtshHome();
    const before = Date.now();
    const result = await browserLogin(alice, home, recorder.url);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Logged in to');
    expect(result.pageText).toMatch(/ztsh on \S+ is now logged in to localhost:\d+ as alice/);

    const profile = join(home, 'profiles', `localhost_${recorder.url.port}`);
    const cert = new X509Certificate(readFileSync(join(profile, 'cert.pem')));
    expect(cert.verify(userCa().publicKey)).toBe(true);
    expect(cert.checkIssued(userCa())).toBe(true);
    expect(cert.subject).toBe('CN=alice\nO=developers');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const identity = identityFromCertificate(new Uint8Array(cert.raw))!;
    expect(identity).toMatchObject({
      user: 'alice',
      roles: ['developer'],
      kubernetesGroups: ['developers'],
      mfaVerified: true,
      mfaMethod: 'totp',
      connector: 'dev',
      issuedForIp: '127.0.0.1',
    });
    // notBefore is one minute back for clock skew; notAfter 8 h after issuance.
    const validFrom = new Date(cert.validFrom).getTime();
    expect(new Date(cert.validTo).getTime() - validFrom).toBe(8 * 3_600_000 + 60_000);
    expect(validFrom + 60_000).toBeGreaterThanOrEqual(before - 1_000);

    // The key was made here, is 0600 and matches the certificate.
    const keyFile = join(profile, 'key.pem');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))).toBe(true);
    aliceProfile = profile;

    // ztsh status reads the same from the certificate.
    const status = await cli(['status', '--format', 'json'], { ZTSH_HOME: home });
    expect(status.code).toBe(0);
    const view = JSON.parse(status.stdout);
    expect(view).toMatchObject({ user: 'alice', roles: ['developer'], mfaMethod: 'totp', expired: false });
    const text = await cli(['status'], { ZTSH_HOME: home });
    expect(text.stdout).toMatch(/Logged in as: alice/);
    expect(text.stdout).toMatch(/valid for 7h5\dm/);
  });

  it('never sends the private key: the wire carried only the public key', async () => {
    const bodies = recorder.bodies.map((b) => b.body).join('\n');
    expect(recorder.bodies.map((b) => b.path)).toEqual(['/v1/login/start', '/v1/login/exchange']);
    expect(bodies).not.toMatch(/PRIVATE KEY/);
    const key = readFileSync(join(aliceProfile!, 'key.pem'), 'utf8');
    const keyBody = key.replace(/-----[^-]+-----|\s/g, '');
    expect(bodies).not.toContain(keyBody.slice(0, 40));
    const sentPublic = JSON.parse(recorder.bodies[0]!.body).publicKey as string;
    expect(createPublicKey(sentPublic).equals(createPublicKey(key))).toBe(true);
  });

  it('caps the certificate at the smallest max_session_ttl of the roles (auditor: 4 h)', async () => {
    const home = newZtshHome();
    const before = Date.now();
    const result = await browserLogin(carol, home);
    expect(result.code, result.stderr).toBe(0);
    const view = JSON.parse((await cli(['status', '--format', 'json'], { ZTSH_HOME: home })).stdout);
    expect(new Date(view.validUntil).getTime() - new Date(view.validFrom).getTime()).toBe(4 * 3_600_000 + 60_000);
    expect(new Date(view.validFrom).getTime() + 60_000).toBeGreaterThanOrEqual(before - 1_000);
    expect(view.roles).toEqual(['auditor']);
  });

  it('refuses a user whose groups map to no role, says why, and writes nothing', async () => {
    const home = newZtshHome();
    const result = await browserLogin(EXTRA_USERS.dave, home);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: login refused: no ztsh role is mapped to dave's IdP claims \(groups: contractors\)/);
    expect(result.stderr).toMatch(/hint: ask an administrator/);
    expect(result.pageText).toMatch(/Login failed/);
    expect(existsSync(join(home, 'profiles'))).toBe(false);
    const events = await stack.ztshd.auth.storage.audit.list();
    expect(events.some((e) => e.type === 'user.login' && !e.success && e.user === 'dave')).toBe(true);
  });

  it('logout removes the key and certificate', async () => {
    const home = newZtshHome();
    // bob, not alice: her TOTP code of this 30 s step is spent (reuse is refused).
    expect((await browserLogin(bob, home)).code).toBe(0);
    const out = await cli(['logout'], { ZTSH_HOME: home });
    expect(out.stdout).toMatch(/Logged out/);
    expect(existsSync(join(home, 'profiles', `localhost_${stack.url.port}`))).toBe(false);
    const status = await cli(['status'], { ZTSH_HOME: home });
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/not logged in/);
  });
});
