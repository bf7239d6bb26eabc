// A session MFA check with a security key makes the CLI read three new
// things: the page URL the proxy names (which it prints and opens), the
// browser's callback on its loopback listener (a code, or an error with
// words and a hint), and the proxy's redeem answer. A lying proxy (here, on
// port 0) must not make ztsh open a file, a program or another site; words
// in a callback must not drive the terminal; a callback with no code, or one
// after the first, must change nothing; the verifier must appear nowhere but
// in the redeem's body.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSessionMfaCache } from '@ztsh/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, runCli } from '../helpers/cli.ts';
import { HOUR, startLyingProxy, type LyingProxy } from './helpers/lying-proxy.ts';

const ESCAPES = '\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\rhidden';
const RAW_CONTROLS = /[\x1b\x07\r\u009b]/;

let liar: LyingProxy;
let proxy: URL;
/** What the lying proxy answers to the start and the redeem, and what it was sent. */
let answer: { methods: string[]; pageUrl: () => string; redeem: (body: any) => { status: number; body: unknown } };
const starts: any[] = [];
const redeems: any[] = [];
const issue: LyingProxy['issue'] = (...args) => liar.issue(...args);

beforeAll(async () => {
  liar = await startLyingProxy('erin', (method, path, body) => {
    if (method === 'GET' && path === '/v1/clusters') {
      return { status: 200, body: { clusters: [{ name: 'prod-a', labels: {}, online: true, since: new Date().toISOString(), sessionMfa: true }] } };
    }
    if (method === 'GET' && path === '/v1/session-mfa') return { status: 200, body: { methods: answer.methods } };
    if (method === 'POST' && path === '/v1/session-mfa/browser') {
      starts.push(body);
      return { status: 200, body: { id: 'check-1', url: answer.pageUrl(), expiresAt: new Date(Date.now() + 300_000).toISOString() } };
    }
    if (method === 'POST' && path === '/v1/session-mfa') {
      redeems.push(body);
      return answer.redeem(body);
    }
    return undefined;
  });
  proxy = liar.url;
});
afterAll(() => liar.close());

/** A logged-in home, and a BROWSER that only writes down what it was asked to open. */
function loggedIn() {
  const h = liar.loggedIn();
  const opened = join(h.dir, 'opened.txt');
  const browser = join(h.dir, 'browser.sh');
  writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${opened}'\n`);
  chmodSync(browser, 0o755);
  const openedArgs = () => (existsSync(opened) ? readFileSync(opened, 'utf8') : '');
  return { ...h, openedArgs, env: { ...h.env, BROWSER: browser } };
}

const goodAnswer = (publicPem: string) => () => ({
  status: 200,
  body: {
    certificate: issue(publicPem, { sessionMfa: { clusters: ['prod-a'], verifiedAt: Date.now(), method: 'webauthn' } }),
    clusters: ['prod-a'],
    validUntil: new Date(Date.now() + HOUR).toISOString(),
    issuedAt: new Date().toISOString(),
  },
});
const ownPage = () => `${proxy.origin}/session-mfa/check-1`;
const mfa = ['kube', 'mfa', '--clusters', 'prod-a', '--timeout', '60s'];

async function startedRedirect(count: number): Promise<string> {
  await expect.poll(() => starts.length, { timeout: 60_000 }).toBe(count);
  return starts[count - 1].redirect as string;
}

describe('session MFA with a security key: the client against hostile input', () => {
  it('a page that is not https on the proxy\'s own origin is neither opened nor printed: a clear refusal', async () => {
    const h = loggedIn();
    const other = `https://evil.example:${proxy.port}/session-mfa/x`;
    for (const page of ['file:///etc/passwd', `http://127.0.0.1:${proxy.port}/session-mfa/x`, other, `https://127.0.0.1:${Number(proxy.port) + 1}/x`, `https://u:p@127.0.0.1:${proxy.port}/x`, `${proxy.origin}@evil.example/x`]) {
      answer = { methods: ['webauthn'], pageUrl: () => page, redeem: () => ({ status: 500, body: {} }) };
      redeems.length = 0;
      const r = await cli(mfa, h.env);
      expect(r.code, page).toBe(1);
      expect(r.stderr, page).toContain(`error: the proxy named a security key page that is not on ${proxy.origin}`);
      expect(r.stderr, page).not.toContain('Open this URL');
      expect(redeems).toEqual([]);
    }
    expect(h.openedArgs()).toBe('');
    expect(readSessionMfaCache(h.home, proxy)).toBeUndefined();
  }, 240_000);

  it('an error from the browser carrying terminal escapes ends the check, shown as visible escapes; nothing is redeemed', async () => {
    const h = loggedIn();
    answer = { methods: ['webauthn'], pageUrl: ownPage, redeem: goodAnswer(h.key.publicPem) };
    redeems.length = 0;
    const run = runCli(mfa, h.env);
    const redirect = await startedRedirect(starts.length + 1);
    await run.waitFor(/confirm with your security key/);
    const q = new URLSearchParams({ error: `mfa_failed${ESCAPES}`, error_description: `bad key${ESCAPES}<script>alert(1)</script>`, error_hint: `hint${ESCAPES}` });
    const page = await fetch(`${redirect}?${q}`);
    expect(page.status).toBe(400);
    // The page shows it as text, not as markup.
    const html = await page.text();
    expect(html).toContain('&lt;script&gt;alert(1)');
    expect(html).not.toContain('<script>');
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain('bad key\\x1b]52');
    expect(run.stderr()).toContain('hint: hint\\x1b]52');
    expect(run.stderr() + run.stdout()).not.toMatch(RAW_CONTROLS);
    expect(redeems).toEqual([]);
    expect(readSessionMfaCache(h.home, proxy)).toBeUndefined();
  }, 120_000);

  it('a callback without a code changes nothing, the real one verifies, a second one changes nothing; the verifier is shown nowhere', async () => {
    const h = loggedIn();
    answer = { methods: ['webauthn'], pageUrl: ownPage, redeem: goodAnswer(h.key.publicPem) };
    redeems.length = 0;
    const run = runCli(mfa, h.env);
    const redirect = await startedRedirect(starts.length + 1);
    await run.waitFor(/confirm with your security key/);
    for (const probe of ['', '?code=', '?state=x', '?error=']) {
      expect((await fetch(`${redirect}${probe}`)).status, probe).toBe(400);
    }
    expect(redeems).toEqual([]);
    expect((await fetch(`${redirect}?code=the-code`)).status).toBe(200);
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stdout()).toMatch(/^Session MFA verified for prod-a until /);
    const cached = readFileSync(h.home.sessionMfaFile(proxy), 'utf8');
    expect(JSON.parse(cached).clusters).toEqual(['prod-a']);
    // The listener is gone: a second callback reaches nothing, and the cache stays as it was.
    await expect(fetch(`${redirect}?code=another`)).rejects.toThrow();
    expect(readFileSync(h.home.sessionMfaFile(proxy), 'utf8')).toBe(cached);
    expect(redeems).toHaveLength(1);
    const verifier = redeems[0].browser.verifier as string;
    expect(redeems[0]).toEqual({ clusters: ['prod-a'], browser: { id: 'check-1', code: 'the-code', verifier } });
    expect(JSON.stringify(starts.at(-1))).not.toContain(verifier);
    // Opened once, with the page and nothing else.
    expect(h.openedArgs()).toBe(`${ownPage()}\n`);
    expect(run.stdout() + run.stderr()).not.toContain(verifier);
    expect(cached).not.toContain(verifier);
  }, 120_000);

  it('--no-browser (or ZTSH_NO_BROWSER=1) prints the page and opens nothing; a redeem refused is the error', async () => {
    for (const [args, extra] of [[['--no-browser'], {}], [[], { ZTSH_NO_BROWSER: '1' }]] as const) {
      const h = loggedIn();
      answer = { methods: ['webauthn'], pageUrl: ownPage, redeem: () => ({ status: 401, body: { error: { code: 'mfa_failed', message: `expired${ESCAPES}`, hint: 'start again' } } }) };
      const run = runCli([...mfa, ...args], { ...h.env, ...extra });
      const redirect = await startedRedirect(starts.length + 1);
      await run.waitFor(/confirm with your security key/);
      expect(run.stderr()).toContain(`Open this URL in a browser on this machine to confirm with your security key:\n  ${ownPage()}\n`);
      expect((await fetch(`${redirect}?code=c`)).status).toBe(400);
      expect(await run.exit).toBe(1);
      expect(run.stderr()).toContain('error: expired\\x1b');
      expect(run.stderr()).not.toMatch(RAW_CONTROLS);
      expect(h.openedArgs()).toBe('');
      expect(readSessionMfaCache(h.home, proxy)).toBeUndefined();
    }
  }, 240_000);

  it('--method the user lacks, or no method at all, is a clear error before any check starts', async () => {
    const h = loggedIn();
    const before = starts.length;
    answer = { methods: ['totp'], pageUrl: ownPage, redeem: () => ({ status: 500, body: {} }) };
    const lacking = await cli([...mfa, '--method', 'webauthn'], h.env);
    expect(lacking.code).toBe(2);
    expect(lacking.stderr).toContain('error: --method webauthn: you have no security key (webauthn) that session MFA accepts\nhint: use --method totp');
    answer = { methods: [], pageUrl: ownPage, redeem: () => ({ status: 500, body: {} }) };
    const none = await cli(mfa, h.env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('error: you have no second factor that session MFA accepts');
    expect(starts.length).toBe(before);
  }, 120_000);

  it('the credential plugin with no terminal refuses at once: no check starts, no browser opens', async () => {
    const h = loggedIn();
    answer = { methods: ['webauthn'], pageUrl: ownPage, redeem: goodAnswer(h.key.publicPem) };
    const before = starts.length;
    const r = await cli(['kube', 'credentials', '--proxy', proxy.origin, '--cluster', 'prod-a', '--session-mfa'], h.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('run "ztsh kube mfa --clusters prod-a" in a terminal first');
    expect(starts.length).toBe(before);
    expect(h.openedArgs()).toBe('');
  }, 60_000);
});
