// A session MFA check with a security key makes the CLI read three new
// things: the page URL the proxy names (which it prints and opens), the
// browser's callback on its loopback listener (a code, or an error with
// words and a hint), and the proxy's redeem answer. A lying proxy (here, on
// port 0) must not make ztsh open a file, a program or another site; words
// in a callback must not drive the terminal; a callback with no code, or one
// after the first, must change nothing; the verifier must appear nowhere but
// in the redeem's body.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock } from '@ztsh/auth';
import { readSessionMfaCache, ZtshHome } from '@ztsh/cli';
import type { Identity } from '@ztsh/protocol';
import { createTestTls } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, runCli } from '../helpers/cli.ts';

const HOUR = 3_600_000;
const ESCAPES = '\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\rhidden';
const RAW_CONTROLS = /[\x1b\x07\r\u009b]/;
const identity: Identity = {
  v: 1, user: 'erin', roles: ['prod'], kubernetesUsers: [], kubernetesGroups: [], traits: {}, mfaVerified: true, loginId: 'l', connector: 'dev', issuedForIp: '127.0.0.1',
};

let ca: Awaited<ReturnType<typeof loadOrCreateAuthority>>;
let server: Server;
let proxy: URL;
let tlsCa: string;
/** What the lying proxy answers to the start and the redeem, and what it was sent. */
let answer: { methods: string[]; pageUrl: () => string; redeem: (body: any) => { status: number; body: unknown } };
const starts: any[] = [];
const redeems: any[] = [];

const newKey = () => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
};
const issue = (publicPem: string, extra: Partial<Identity> = {}, notAfter = Date.now() + HOUR) =>
  issueCertificate({ ca, publicKey: checkPublicKey(publicPem), identity: { ...identity, ...extra }, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(notAfter) }).pem;

beforeAll(async () => {
  ca = await loadOrCreateAuthority({ dir: mkdtempSync(join(tmpdir(), 'ztsh-ca-')), kind: 'user', clusterName: 'test', clock: systemClock });
  const tls = await createTestTls();
  tlsCa = tls.caCert;
  server = createServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'GET' && req.url === '/v1/clusters') {
        return send(200, { clusters: [{ name: 'prod-a', labels: {}, online: true, since: new Date().toISOString(), sessionMfa: true }] });
      }
      if (req.method === 'GET' && req.url === '/v1/session-mfa') return send(200, { methods: answer.methods });
      if (req.method === 'POST' && req.url === '/v1/session-mfa/browser') {
        starts.push(JSON.parse(text));
        return send(200, { id: 'check-1', url: answer.pageUrl(), expiresAt: new Date(Date.now() + 300_000).toISOString() });
      }
      if (req.method === 'POST' && req.url === '/v1/session-mfa') {
        const body = JSON.parse(text);
        redeems.push(body);
        const a = answer.redeem(body);
        return send(a.status, a.body);
      }
      send(404, { error: { code: 'not_found', message: 'no' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A logged-in home, and a BROWSER that only writes down what it was asked to open. */
function loggedIn() {
  const key = newKey();
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-home-'));
  const home = new ZtshHome(dir);
  home.writeProfile(proxy, {
    meta: { proxy: proxy.origin, user: 'erin', roles: ['prod'], kubernetesGroups: [], kubernetesUsers: [], mfaVerified: true, validUntil: '', loggedInAt: '' },
    keyPem: key.keyPem, certPem: issue(key.publicPem, {}, Date.now() + 8 * HOUR), userCaPem: '', hostCaPem: '',
  });
  home.writeTrust(proxy, tlsCa);
  home.setCurrent(proxy);
  const opened = join(dir, 'opened.txt');
  const browser = join(dir, 'browser.sh');
  writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${opened}'\n`);
  chmodSync(browser, 0o755);
  const openedArgs = () => (existsSync(opened) ? readFileSync(opened, 'utf8') : '');
  return { dir, home, key, openedArgs, env: { PATH: process.env.PATH ?? '', ZTSH_HOME: dir, HOME: dir, BROWSER: browser } };
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
