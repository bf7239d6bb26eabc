import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CliError } from '../cli-error.ts';
import type { ApiClient } from '../http.ts';
import { browserSessionMfa, checkPageUrl } from './session-mfa-browser.ts';

const PROXY = new URL('https://access.example.com:8443');

describe('checkPageUrl: only the proxy\'s own https page is opened', () => {
  it('takes a page on the proxy\'s origin', () => {
    expect(checkPageUrl('https://access.example.com:8443/session-mfa/abc?x=1', PROXY).href).toBe('https://access.example.com:8443/session-mfa/abc?x=1');
    expect(checkPageUrl('HTTPS://ACCESS.example.com:8443/p', PROXY).origin).toBe(PROXY.origin);
  });

  it('refuses another scheme, host, port, user info, or no URL at all', () => {
    for (const bad of [
      'file:///etc/passwd',
      'http://access.example.com:8443/p',
      'https://access.example.com/p',
      'https://access.example.com:8444/p',
      'https://evil.example.com:8443/p',
      'https://access.example.com.evil.example:8443/p',
      'https://access.example.com:8443@evil.example.com/p',
      'https://user:pw@access.example.com:8443/p',
      'javascript:alert(1)',
      'data:text/html,hi',
      '/relative',
      '',
    ]) {
      expect(() => checkPageUrl(bad, PROXY), bad).toThrow(CliError);
    }
  });
});

/** A stand-in for the proxy's two routes: the real ApiClient is driven by the end-to-end tests. */
function fakeApi(redeem: (body: any) => unknown) {
  const calls: { path: string; body: any }[] = [];
  const api = {
    async call(_method: string, path: string, _schema: unknown, body: any) {
      calls.push({ path, body });
      if (path === '/v1/session-mfa/browser') return { id: 'check-1', url: `${PROXY.origin}/session-mfa/check-1`, expiresAt: new Date(Date.now() + 300_000).toISOString() };
      return redeem(body);
    },
  } as unknown as ApiClient;
  return { api, calls };
}

function run(api: ApiClient, timeoutMs = 30_000) {
  let said = '';
  const done = browserSessionMfa({ api, proxy: PROXY, clusters: ['prod-a'], say: (t) => (said += t), open: false, env: {}, timeoutMs, again: 'run it again' });
  // Awaited later, after the test has played the browser: handled from the start.
  done.catch(() => undefined);
  return { done, said: () => said };
}

const answer = { certificate: 'pem', clusters: ['prod-a'], validUntil: new Date(Date.now() + 3_600_000).toISOString(), issuedAt: new Date().toISOString() };

async function redirectOf(calls: { path: string; body: any }[]): Promise<string> {
  await expect.poll(() => calls.length).toBeGreaterThan(0);
  return calls[0]!.body.redirect as string;
}

describe('browserSessionMfa', () => {
  it('starts with the verifier\'s hash, redeems the code with the verifier, and never shows the verifier', async () => {
    const { api, calls } = fakeApi(() => answer);
    const r = run(api);
    const redirect = await redirectOf(calls);
    expect(redirect).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    // A probe without a code changes nothing: the check still waits for the real answer.
    expect((await fetch(redirect)).status).toBe(400);
    const page = await fetch(`${redirect}?code=the-code`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Session MFA verified');
    await expect(r.done).resolves.toEqual(answer);
    const [start, redeem] = calls;
    expect(start!.body).toMatchObject({ clusters: ['prod-a'], client: { name: 'ztsh' } });
    expect(redeem).toEqual({ path: '/v1/session-mfa', body: { clusters: ['prod-a'], browser: { id: 'check-1', code: 'the-code', verifier: expect.any(String) } } });
    const verifier = redeem!.body.browser.verifier as string;
    expect(createHash('sha256').update(verifier).digest('base64url')).toBe(start!.body.verifierHash);
    expect(JSON.stringify(start!.body)).not.toContain(verifier);
    expect(r.said()).toContain(`Open this URL in a browser on this machine to confirm with your security key:\n  ${PROXY.origin}/session-mfa/check-1\n`);
    expect(r.said()).not.toContain(verifier);
    // The listener is gone once the check ends: a second callback reaches nothing.
    await expect(fetch(`${redirect}?code=again`)).rejects.toThrow();
    expect(calls).toHaveLength(2);
  });

  it('a browser error ends the check with its words and hint, and nothing is redeemed', async () => {
    const { api, calls } = fakeApi(() => answer);
    const r = run(api);
    const redirect = await redirectOf(calls);
    const page = await fetch(`${redirect}?error=mfa_failed&error_description=${encodeURIComponent('the key was not accepted')}&error_hint=${encodeURIComponent('try another key')}`);
    expect(page.status).toBe(400);
    await expect(r.done).rejects.toMatchObject({ message: 'the security key check failed: the key was not accepted', hint: 'try another key', code: 'mfa_failed' });
    expect(calls).toHaveLength(1);
  });

  it('a refused redeem is the error, shown on the page too', async () => {
    const { api, calls } = fakeApi(() => {
      throw new CliError('the check expired', 'start again');
    });
    const r = run(api);
    const redirect = await redirectOf(calls);
    const page = await fetch(`${redirect}?code=late`);
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('the check expired');
    await expect(r.done).rejects.toMatchObject({ message: 'the check expired' });
  });

  it('no answer within the time says so and what to run', async () => {
    const { api } = fakeApi(() => answer);
    await expect(run(api, 200).done).rejects.toMatchObject({ message: expect.stringMatching(/^no answer from the browser within 0 s/), hint: expect.stringMatching(/^run it again/) });
  });

  it('a start that names a page elsewhere is refused before anything is shown or opened', async () => {
    const api = { call: async () => ({ id: 'x', url: 'file:///etc/passwd', expiresAt: '' }) } as unknown as ApiClient;
    const r = run(api);
    await expect(r.done).rejects.toThrow(/not on https:\/\/access\.example\.com:8443/);
    expect(r.said()).toBe('');
  });
});
