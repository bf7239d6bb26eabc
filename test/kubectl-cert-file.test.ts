// kubectl through ztsh without a credential plugin: `ztsh kube login` names
// the file `ztsh login` keeps the certificate and key in, so kubectl starts
// no other process. Real kubectl 1.33 and 1.30; re-login, locks, expiry (on
// the stack's clock) and logout behave as with the plugin, each with a clear
// line from kubectl.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ManualClock } from '@ztsh/auth';
import { ZtshHome } from '@ztsh/cli';
import { DEV_USERS } from '@ztsh/server';
import { FormClient, findKubectl, runKubectl } from '@ztsh/testkit';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, runCli } from './helpers/cli.ts';
import { totpNow } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';

const alice = DEV_USERS[0]!;
const clock = new ManualClock(Date.now());
let k: KubeEnv;
let home: ZtshHome;

beforeAll(async () => {
  k = await startKubeEnv({ stack: { clock } });
  k.kube.addPod('default', 'web-1');
  home = new ZtshHome(k.home);
});
afterAll(() => k?.close());

const VERSIONS = ['1.33', '1.30'] as const;
const bin = (version: string) => findKubectl(version, process.env.PATH)!;
const getPods = (version: string, env: NodeJS.ProcessEnv = k.env) => runKubectl(bin(version), ['get', 'pods', '-o', 'name'], { env, timeoutMs: 60_000 });

interface KubeconfigUser {
  name: string;
  user: Record<string, unknown>;
}
const kubeconfigUsers = () => (parse(readFileSync(k.kubeconfig, 'utf8')) as { users: KubeconfigUser[] }).users;

/** `ztsh login` as alice, the real CLI, with the browser's part done over HTTP; a fresh TOTP step each time (codes are single use). */
async function reLogin(): Promise<void> {
  clock.advance(31_000);
  const login = runCli(['login', '--proxy', k.stack.url.origin, '--no-browser', '--ca-file', k.stack.tlsCaFile, '--timeout', '60s'], k.env as Record<string, string>);
  const [url] = await login.waitFor(/https:\/\/localhost:\d+\/login\/\S+/);
  const forms = new FormClient({ ca: k.stack.tlsCa });
  const mfa = await forms.submitForm(await forms.get(url), { username: alice.username, password: alice.password });
  await forms.submitForm(mfa, { code: totpNow(alice.totpSecret!, clock.now().getTime()) }, { formAction: '/mfa/totp' });
  await forms.close();
  expect(await login.exit, login.stderr()).toBe(0);
}

describe('the kubeconfig ztsh kube login writes by default', () => {
  it('names one certificate-and-key file under ZTSH_HOME, and runs nothing', () => {
    const users = kubeconfigUsers();
    expect(users).toHaveLength(1);
    const file = home.credentialFile(k.stack.url);
    expect(isAbsolute(file)).toBe(true);
    expect(users[0]!.user).toEqual({ 'client-certificate': file, 'client-key': file });
    const profile = home.readProfile(k.stack.url)!;
    expect(readFileSync(file, 'utf8')).toBe(profile.certPem + profile.keyPem);
  });

  for (const version of VERSIONS) {
    it(`kubectl ${version} gets pods with nothing but its own binary: no PATH, no ZTSH_HOME`, async () => {
      const r = await getPods(version, { HOME: k.home, KUBECONFIG: k.kubeconfig });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('pod/web-1');
      expect(r.stderr).toBe('');
    });
  }

  it('--exec-plugin writes the credential plugin form, which kubectl runs', async () => {
    const plugin = await cli(['kube', 'login', 'sandbox', '--exec-plugin'], k.env as Record<string, string>);
    expect(plugin.code, plugin.stderr).toBe(0);
    const exec = kubeconfigUsers()[0]!.user.exec as { command: string; args: string[] };
    expect(exec.args.slice(-6)).toEqual(['kube', 'credentials', '--proxy', k.stack.url.origin, '--cluster', 'sandbox']);
    expect((await getPods('1.33')).stdout.trim()).toBe('pod/web-1');
    // And back to the default.
    expect((await cli(['kube', 'login', 'sandbox'], k.env as Record<string, string>)).code).toBe(0);
    expect(kubeconfigUsers()[0]!.user).toEqual({ 'client-certificate': home.credentialFile(k.stack.url), 'client-key': home.credentialFile(k.stack.url) });
  });
});

describe('re-login while kubectl runs', () => {
  it('keeps the key of a valid certificate, so kubectl in a loop never sees a mismatched pair', async () => {
    const first = home.readProfile(k.stack.url)!;
    let running = true;
    const results: { code: number | null; stderr: string }[] = [];
    const loop = async (version: string) => {
      while (running) results.push(await getPods(version));
    };
    const loops = [loop('1.33'), loop('1.30')];
    try {
      await reLogin();
      const second = home.readProfile(k.stack.url)!;
      await reLogin();
      const third = home.readProfile(k.stack.url)!;
      // Real logins: a new certificate each time, for the same key.
      expect(new Set([first.certPem, second.certPem, third.certPem]).size).toBe(3);
      expect(second.keyPem).toBe(first.keyPem);
      expect(third.keyPem).toBe(first.keyPem);
      // Then logins as fast as this process can write them: each replaces the file kubectl reads.
      const until = results.length + 20;
      for (let swaps = 0; results.length < until; swaps++) {
        home.writeProfile(k.stack.url, swaps % 2 ? second : third);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    expect(results.length).toBeGreaterThan(20);
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  }, 300_000);
});

describe('refusals kubectl shows in one clear line', () => {
  for (const version of VERSIONS) {
    it(`kubectl ${version}: a lock`, async () => {
      const locks = k.stack.ztshd.auth.deps.locks;
      const lock = await locks.add({ target: { user: 'alice' }, message: 'incident 12', createdBy: 'test' });
      try {
        const r = await getPods(version);
        expect(r.code).not.toBe(0);
        expect(r.stderr.trim().split('\n').at(-1)).toBe(`Error from server (Forbidden): access locked for user alice: incident 12 (lock ${lock.id})`);
      } finally {
        await locks.remove(lock.id, 'test');
      }
    });
  }

  it('an expired certificate: the proxy\'s clock moved past notAfter; the hint shows with discovery cached or not', async () => {
    const cached = mkdtempSync(join(tmpdir(), 'ztsh-kube-cache-'));
    const withCache = (version: string, dir: string) => runKubectl(bin(version), ['get', 'pods', '-o', 'name', '--cache-dir', dir], { env: k.env, timeoutMs: 60_000 });
    for (const version of VERSIONS) expect((await withCache(version, join(cached, version))).code).toBe(0);
    const saved = clock.now().getTime();
    clock.advance(9 * 3600_000);
    try {
      for (const version of VERSIONS) {
        // Discovery first (what kubectl does when its cache is older than the certificate).
        const fresh = await withCache(version, mkdtempSync(join(tmpdir(), 'ztsh-kube-cache-')));
        expect(fresh.code, version).not.toBe(0);
        expect(fresh.stderr.trim().split('\n').at(-1), version).toBe('Error from server (Forbidden): your ztsh certificate has expired: run ztsh login');
        // Discovery from the cache: the pods request itself is refused.
        const known = await withCache(version, join(cached, version));
        expect(known.code, version).not.toBe(0);
        expect(known.stderr.trim(), version).toBe('error: You must be logged in to the server (your ztsh certificate has expired: run ztsh login)');
      }
    } finally {
      clock.advance(saved - clock.now().getTime());
    }
  });

  it('after ztsh logout: the file holds no key, and kubectl says to log in', async () => {
    expect((await getPods('1.33')).code).toBe(0);
    const out = await cli(['logout'], k.env as Record<string, string>);
    expect(out.code, out.stderr).toBe(0);
    const left = readFileSync(home.credentialFile(k.stack.url), 'utf8');
    expect(left).not.toMatch(/CERTIFICATE|PRIVATE KEY/);
    expect(left).toContain(`ztsh login --proxy ${k.stack.url.origin}`);
    for (const version of VERSIONS) {
      const r = await getPods(version);
      expect(r.code, version).not.toBe(0);
      expect(r.stderr.trim().split('\n').at(-1), version).toBe(
        `Unable to connect to the server: tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [ZTSH LOGGED OUT; TO LOG IN, RUN: ztsh login --proxy ${k.stack.url.origin}]`,
      );
    }
    // A login brings it back, with no new ztsh kube login.
    await reLogin();
    expect((await getPods('1.33')).stdout.trim()).toBe('pod/web-1');
  }, 120_000);
});
