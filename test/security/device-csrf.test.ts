// Item 5: the device-code approval (ztsh login --headless) cannot be driven
// from another site. An attacker who starts a device login and makes a
// signed-in victim's browser post its user code must get nothing: the posts
// to /device and /device/confirm need the same origin (when the browser says)
// and a token bound to the page rendered in this browser, for this login.
import { DEV_USERS } from '@ztsh/server';
import { FormClient, type Page } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@ztsh/protocol';
import { apiClient, newLoginKeys, totpNow } from '../helpers/http-login.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { rawRequest, type Target } from './helpers/raw-client.ts';

let stack: TestStack;
let api: ReturnType<typeof apiClient>;
const clients: FormClient[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  api = apiClient(stack.url, stack.tlsCa);
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await api?.close();
  await stack?.close();
});

const target = (): Target => ({ url: stack.url, tlsCa: stack.tlsCa });
const browser = () => {
  const client = new FormClient({ ca: stack.tlsCa });
  clients.push(client);
  return client;
};

interface DeviceLogin {
  loginId: string;
  userCode: string;
  deviceCode: string;
  verifier: string;
}

/** What an attacker does first: start a device login from a machine of theirs. */
async function startDevice(hostname = 'attacker-box'): Promise<DeviceLogin> {
  const keys = newLoginKeys();
  const res = await api.post('/v1/login/device', { publicKey: keys.publicKey, verifierHash: keys.verifierHash, client: { name: 'ztsh', hostname } });
  expect(res.status).toBe(201);
  const login = (await stack.ztshd.auth.storage.logins.findByUserCode(res.json.userCode))!;
  return { loginId: login.id, userCode: res.json.userCode, deviceCode: res.json.deviceCode, verifier: keys.verifier };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const statusOf = async (loginId: string) => (await stack.ztshd.auth.storage.logins.get(loginId))?.status;
const auditOf = (): Promise<AuditEvent[]> => stack.ztshd.auth.storage.audit.list({ limit: 100_000 });

/** The confirm page a browser gets for a login, and the token on it. */
async function confirmPage(client: FormClient, userCode: string): Promise<{ page: Page; csrf: string }> {
  const codePage = await client.get(new URL('/device', stack.url));
  const page = await client.submitForm(codePage, { user_code: userCode });
  expect(page.status).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1];
  expect(csrf).toBeTruthy();
  return { page, csrf: csrf! };
}

describe('item 5: device login approval', () => {
  it('item 5: a cross-site POST to /device/confirm is refused, goes nowhere near the IdP, and is audited', async () => {
    const login = await startDevice();
    const res = await rawRequest(target(), {
      method: 'POST',
      path: '/device/confirm',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', Accept: 'text/html' },
      body: form({ user_code: login.userCode }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['set-cookie'] ?? '').not.toContain('ztsh_login=');
    expect(await statusOf(login.loginId)).toBe('started');
    const refused = (await auditOf()).filter((e) => e.type === 'user.login' && !e.success && e.loginId === login.loginId);
    expect(refused.map((e) => e.fields.reason)).toEqual(['cross_site']);
  });

  it('item 5: a POST with no browser headers, no cookie and no token (an old browser) is refused too', async () => {
    const login = await startDevice();
    for (const body of [form({ user_code: login.userCode }), form({ user_code: login.userCode, csrf: 'x'.repeat(43) })]) {
      const res = await rawRequest(target(), { method: 'POST', path: '/device/confirm', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
      expect(res.status).toBe(403);
      expect(res.headers.location).toBeUndefined();
    }
    expect(await statusOf(login.loginId)).toBe('started');
  });

  it('item 5: a same-site sibling or another origin is refused even with a valid token', async () => {
    const login = await startDevice();
    const attacker = browser();
    const { csrf } = await confirmPage(attacker, login.userCode);
    const cookie = attacker.cookieHeader(stack.url);
    const spoofed: Record<string, string>[] = [{ 'Sec-Fetch-Site': 'same-site' }, { 'Sec-Fetch-Site': 'cross-site' }, { Origin: 'https://evil.example' }, { Origin: `https://sub.${stack.url.host}` }];
    for (const headers of spoofed) {
      const res = await rawRequest(target(), {
        method: 'POST',
        path: '/device/confirm',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie, ...headers },
        body: form({ user_code: login.userCode, csrf }),
      });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    expect(await statusOf(login.loginId)).toBe('started');
  });

  it('item 5: a token from another browser, or for another login, approves nothing', async () => {
    const first = await startDevice();
    const second = await startDevice();
    const attacker = browser();
    const { csrf: attackerToken } = await confirmPage(attacker, first.userCode);
    // The victim's browser has its own secret; the attacker's token is bound to theirs.
    const victim = browser();
    await victim.get(new URL('/device', stack.url));
    const stolen = await rawRequest(target(), {
      method: 'POST',
      path: '/device/confirm',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: victim.cookieHeader(stack.url) },
      body: form({ user_code: first.userCode, csrf: attackerToken }),
    });
    expect(stolen.status).toBe(403);
    // The attacker's own token for one login does not approve another.
    const other = await rawRequest(target(), {
      method: 'POST',
      path: '/device/confirm',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: attacker.cookieHeader(stack.url) },
      body: form({ user_code: second.userCode, csrf: attackerToken }),
    });
    expect(other.status).toBe(403);
    expect(await statusOf(first.loginId)).toBe('started');
    expect(await statusOf(second.loginId)).toBe('started');
  });

  it('item 5: a cross-site POST to /device shows no approval page and echoes no code', async () => {
    const login = await startDevice();
    const res = await rawRequest(target(), {
      method: 'POST',
      path: '/device',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', Accept: 'text/html' },
      body: form({ user_code: login.userCode }),
    });
    expect(res.status).toBe(403);
    expect(res.body).not.toContain('Approve');
    expect(res.body).not.toContain(login.userCode);
    expect(res.body).not.toContain('attacker-box');
  });

  it('item 5: from its own page, the approval names the machine and IP asking, then signs the device in', async () => {
    const carol = DEV_USERS[2]!;
    const login = await startDevice('build-runner-7');
    const client = browser();
    const { page } = await confirmPage(client, login.userCode.toLowerCase().replace('-', ' '));
    expect(page.html).toMatch(/Signing in <strong>ztsh on build-runner-7<\/strong>\s+from 127\.0\.0\.1/);
    expect(page.html).toContain('id="requested-from">127.0.0.1<');
    expect(await statusOf(login.loginId)).toBe('started');
    const idpPage = await client.submitForm(page, {}, { formAction: '/device/confirm' });
    const mfa = await client.submitForm(idpPage, { username: carol.username, password: carol.password });
    const approved = await client.submitForm(mfa, { code: totpNow(carol.totpSecret!) }, { formAction: '/mfa/totp' });
    expect(approved.html).toContain('id="approved"');
    expect(await statusOf(login.loginId)).toBe('approved');
    const certs = await api.post('/v1/login/device/token', { deviceCode: login.deviceCode, verifier: login.verifier });
    expect(certs.status).toBe(200);
    expect(certs.json.user).toBe('carol');
  });
});
