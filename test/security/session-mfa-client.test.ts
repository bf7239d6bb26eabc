// The user side of session MFA reads new input: the cache file under
// ZTSH_HOME, KUBERNETES_EXEC_INFO from whatever starts the plugin, keys typed
// on the terminal, and the proxy's answers to GET /v1/clusters and POST
// /v1/session-mfa. None of them may make the plugin hand kubectl a
// certificate it should not, wait for input that cannot come, or write
// terminal controls raw. The proxy here is a liar on port 0.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readSessionMfaCache } from '@ztsh/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';
import { ZTSH } from '../helpers/source-bins.ts';
import { runOnTty } from '../helpers/tty.ts';
import { HOUR, newKey, startLyingProxy, type LyingProxy } from './helpers/lying-proxy.ts';

const ESCAPES = '\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\rhidden';
const REFUSAL = /error: cluster "prod-a" needs a fresh second factor \(session MFA\) and there is no terminal to ask on/;

let liar: LyingProxy;
let proxy: URL;
/** What the lying proxy answers next, and the bodies it was sent. */
let answer: { clusters: unknown; sessionMfa: (body: any) => { status: number; body: unknown } };
const received: any[] = [];
const issue: LyingProxy['issue'] = (...args) => liar.issue(...args);

beforeAll(async () => {
  liar = await startLyingProxy('alice', (method, path, body) => {
    if (method === 'GET' && path === '/v1/clusters') return { status: 200, body: answer.clusters };
    if (method === 'GET' && path === '/v1/session-mfa') return { status: 200, body: { methods: ['totp'] } };
    if (method === 'POST' && path === '/v1/session-mfa') {
      received.push(body);
      return answer.sessionMfa(body);
    }
    return undefined;
  });
  proxy = liar.url;
});
afterAll(() => liar.close());

const loggedIn = () => liar.loggedIn();

const credentials = (cluster = 'prod-a') => ['kube', 'credentials', '--proxy', proxy.origin, '--cluster', cluster, '--session-mfa'];
const cluster = (name: string, sessionMfa: boolean) => ({ name, labels: {}, online: true, since: new Date().toISOString(), ...(sessionMfa ? { sessionMfa: true } : {}) });

describe('session MFA on the client, against hostile input', () => {
  it('a cache file that is broken, of the wrong shape, or for another proxy is never served: the refusal, no crash', async () => {
    const h = loggedIn();
    const file = h.home.sessionMfaFile(proxy);
    mkdirSync(dirname(file), { recursive: true });
    const good = { proxy: proxy.origin, loginCertificateSha256: 'x', clusters: ['prod-a'], validUntil: new Date(Date.now() + HOUR).toISOString(), issuedAt: '', certificate: '' };
    for (const content of [
      '', '{', 'null', '[]', '"x"', 'x'.repeat(1_000_000),
      JSON.stringify({ ...good, clusters: 'prod-a' }),
      JSON.stringify({ ...good, certificate: 'not a certificate' }),
      JSON.stringify({ ...good, certificate: 42 }),
      JSON.stringify({ ...good, proxy: 'https://other.example.com' }),
      JSON.stringify({ ...good, validUntil: 'tomorrow' }),
    ]) {
      writeFileSync(file, content);
      const r = await cli(credentials(), h.env);
      expect(r.code, content.slice(0, 80)).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(REFUSAL);
    }
  }, 240_000);

  it('KUBERNETES_EXEC_INFO claiming a terminal, when there is none, still gets the refusal at once', async () => {
    const h = loggedIn();
    const info = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: true } });
    // A new session (setsid): no controlling terminal, so /dev/tty cannot be opened; stdin stays open and silent.
    const child = spawn(process.execPath, [...ZTSH, ...credentials()], { env: { ...h.env, KUBERNETES_EXEC_INFO: info }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.destroy();
    expect(code).toBe(1);
    expect(stderr).toMatch(REFUSAL);
  }, 60_000);

  it('shows control characters in --cluster as escapes in the refusal', async () => {
    const h = loggedIn();
    const r = await cli(credentials(`prod${ESCAPES}`), h.env);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/[\x1b\x07\r\u009b]/);
    expect(r.stderr).toContain('\\x1b]52');
  }, 60_000);

  it('sends only the digits typed, shows the proxy\'s words and cluster names escaped, and refuses a certificate for another key', async () => {
    const h = loggedIn();
    const stranger = newKey();
    let tries = 0;
    answer = {
      clusters: { clusters: [cluster('prod-a', true), cluster(`prod-${ESCAPES}`, true), cluster('dev', false)] },
      sessionMfa: (body) => {
        tries++;
        if (tries === 1) return { status: 401, body: { error: { code: 'mfa_failed', message: `wrong code${ESCAPES}` } } };
        return {
          status: 200,
          body: { certificate: issue(stranger.publicPem, { sessionMfa: { clusters: ['prod-a'], verifiedAt: Date.now(), method: 'totp' } }), clusters: ['prod-a'], validUntil: new Date(Date.now() + HOUR).toISOString(), issuedAt: new Date().toISOString() },
        };
      },
    };
    received.length = 0;
    const run = runOnTty([process.execPath, ...ZTSH, ...credentials()], h.env);
    await run.waitFor(/authenticator app: /, 120_000);
    // Arrow keys, letters and spaces are not part of a code.
    run.type('12\x1b[Ax34 56\r');
    await run.waitFor(/wrong code[^]*authenticator app: /, 120_000);
    run.type('654321\r');
    const code = await run.exited;
    const output = run.output();
    expect(code, output).not.toBe(0);
    expect(received.map((b) => b.totp.code)).toEqual(['123456', '654321']);
    expect(received[0].clusters).toEqual(['prod-a', `prod-${ESCAPES}`]);
    expect(output).toContain("the session MFA certificate the proxy sent is not for this login's key");
    expect(output).not.toContain('\x1b[2J');
    expect(output).not.toContain('\x1b]52');
    expect(output).toContain('\\x1b[2J');
    expect(output).not.toContain('654321');
    expect(existsSync(h.home.sessionMfaFile(proxy))).toBe(false);
  }, 240_000);

  it('a cluster the proxy does not mark gets the login certificate without a prompt; the cache is written only from a good answer', async () => {
    const h = loggedIn();
    answer = { clusters: { clusters: [cluster('prod-a', false)] }, sessionMfa: () => ({ status: 500, body: {} }) };
    const run = runOnTty([process.execPath, ...ZTSH, ...credentials()], h.env);
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).not.toMatch(/authenticator app/);
    expect(run.output()).toContain('"clientCertificateData"');
    expect(readSessionMfaCache(h.home, proxy)).toBeUndefined();
  }, 120_000);
});
