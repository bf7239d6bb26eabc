// Per-session MFA with the real kubectl on a terminal (util-linux `script`):
// alice reaches dev (no session MFA) and prod-a, prod-b (a role with
// require_session_mfa, interval 1h). The first kubectl call on prod-a asks
// once for a TOTP code; twenty more over prod-a and prod-b do not; past the
// interval (the stack's ManualClock, and the plugin's clock with libfaketime)
// the next call asks again; the dev cluster never asks; without a terminal
// kubectl gets a one-line refusal at once, and `ztsh kube mfa` run on a
// terminal first is what makes such calls work.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ManualClock } from '@ztsh/auth';
import { readSessionMfaCache, ZtshHome } from '@ztsh/cli';
import { DEV_ROLES, DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';
import { totpNow } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { ZTSH } from './helpers/source-bins.ts';
import { runOnTty } from './helpers/tty.ts';

const HOUR = 3_600_000;
const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const PROMPT = /Enter the code from your authenticator app: /g;
const alice = { ...DEV_USERS[0]!, groups: ['developers', 'DevOps'] };
// alice's second group brings a production role that wants a fresh check per session.
const roles = DEV_ROLES.map((r) =>
  r.metadata.name === 'devops-admin'
    ? {
        ...r,
        spec: {
          ...r.spec,
          options: { max_session_ttl: '8h', require_mfa: true, require_session_mfa: true, mfa_verification_interval: '1h' },
          allow: { ...r.spec.allow, kubernetes_labels: { env: ['prod'] }, permissions: [] },
        },
      }
    : r,
);

const clock = new ManualClock(Date.now());
let k: KubeEnv;
let home: ZtshHome;
let env: Record<string, string>;
const kubectl133 = () => findKubectl('1.33', process.env.PATH)!;
const kubectl130 = () => findKubectl('1.30', process.env.PATH)!;
const context = (cluster: string) => `${k.stack.url.hostname}-${cluster}`;
const podsArgs = (cluster: string) => ['--context', context(cluster), 'get', 'pods', '-o', 'name'];
const getPods = (cluster: string, bin = kubectl133()) => [bin, ...podsArgs(cluster)];
/** The plugin's clock set to the stack's: kubectl (static Go) keeps its own, the plugin it starts (node) reads the faked one. */
const fakedToStack = () => ({ ...env, LD_PRELOAD: FAKETIME_LIB, FAKETIME: `+${Math.round((clock.now().getTime() - Date.now()) / 1000)}s` });
const prompts = (text: string) => text.match(PROMPT)?.length ?? 0;
/** A TOTP step later than any used before (the login's came from this machine's clock): codes are single use. */
const nextCode = () => {
  clock.advance(Math.max(31_000, Date.now() + 31_000 - clock.now().getTime()));
  return totpNow(alice.totpSecret!, clock.now().getTime());
};

beforeAll(async () => {
  k = await startKubeEnv({ roles, stack: { clock, users: [alice, ...DEV_USERS.slice(1)] } });
  k.kube.addPod('default', 'web-1');
  await Promise.all([k.addAgent('prod-a', { env: 'prod' }), k.addAgent('prod-b', { env: 'prod' }), k.addAgent('dev', { env: 'dev' })]);
  env = k.env as Record<string, string>;
  home = new ZtshHome(k.home);
  for (const cluster of ['prod-a', 'prod-b', 'dev']) {
    const r = await cli(['kube', 'login', cluster], env);
    expect(r.code, r.stderr).toBe(0);
  }
}, 300_000);
afterAll(() => k?.close());

/** Runs argv on a terminal; types a fresh code each time it asks; returns the output and how often it asked. */
async function onTerminal(argv: string[], runEnv: Record<string, string>, answer = true) {
  const run = runOnTty(argv, runEnv);
  let answered = 0;
  // After the helper's own listeners, so output() already holds this chunk.
  const onData = () => {
    while (answer && prompts(run.output()) > answered) {
      answered++;
      run.type(`${nextCode()}\r`);
    }
  };
  run.child.stdout!.on('data', onData);
  run.child.stderr!.on('data', onData);
  const code = await run.exited;
  return { code, output: run.output(), prompts: prompts(run.output()) };
}

describe('per-session MFA with kubectl on a terminal', () => {
  it('ztsh kube login writes the plugin with --session-mfa and IfAvailable for the prod clusters, the plain certificate file for dev', () => {
    const users = (parse(readFileSync(k.kubeconfig, 'utf8')) as { users: { name: string; user: Record<string, any> }[] }).users;
    for (const cluster of ['prod-a', 'prod-b']) {
      const exec = users.find((u) => u.name === context(cluster))!.user.exec;
      expect(exec.args.slice(-7)).toEqual(['kube', 'credentials', '--proxy', k.stack.url.origin, '--cluster', cluster, '--session-mfa']);
      expect(exec.interactiveMode).toBe('IfAvailable');
    }
    expect(users.find((u) => u.name === context('dev'))!.user).toEqual({ 'client-certificate': home.credentialFile(k.stack.url), 'client-key': home.credentialFile(k.stack.url) });
  });

  it('without a terminal, kubectl gets the one-line refusal, and nothing waits for input (stdin stays open)', async () => {
    // How long it takes is a bench row (bench/credential-plugin.ts): kubectl
    // starts the plugin five times before it gives up, and from sources here
    // each start is a TypeScript compile.
    const child = spawn(kubectl133(), podsArgs('prod-a'), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // stdin stays open and silent: a plugin that waited for input would never end.
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.destroy();
    expect(code).not.toBe(0);
    expect(stderr).toContain('error: cluster "prod-a" needs a fresh second factor (session MFA) and there is no terminal to ask on: run "ztsh kube mfa --clusters prod-a" in a terminal first, then run this again');
    expect(stderr).not.toMatch(PROMPT);
    expect(existsSync(home.sessionMfaFile(k.stack.url))).toBe(false);
  }, 240_000);

  it('asks once on the first prod-a call; twenty calls over prod-a and prod-b then do not ask; dev never asks', async () => {
    const first = await onTerminal(getPods('prod-a'), env);
    expect(first.code, first.output).toBe(0);
    expect(first.prompts, first.output).toBe(1);
    expect(first.output).toContain('pod/web-1');
    expect(first.output).toMatch(/Session MFA verified for prod-a, prod-b until /);
    // One check covers every cluster that requires it; the cache is the user's alone.
    expect(readSessionMfaCache(home, k.stack.url)?.clusters).toEqual(['prod-a', 'prod-b']);
    expect(statSync(home.sessionMfaFile(k.stack.url)).mode & 0o777).toBe(0o600);

    // Twenty kubectl processes on one terminal, one of them kubectl 1.30; then dev.
    const calls = Array.from({ length: 20 }, (_, i) => getPods(i % 2 ? 'prod-b' : 'prod-a', i === 7 ? kubectl130() : kubectl133()));
    const script = [...calls, getPods('dev')].map((argv) => argv.map((a) => `'${a}'`).join(' ')).join(' && ');
    const twenty = await onTerminal(['sh', '-c', script], env, false);
    expect(twenty.code, twenty.output).toBe(0);
    expect(twenty.prompts, twenty.output).toBe(0);
    expect(twenty.output.match(/pod\/web-1/g)).toHaveLength(21);
  }, 600_000);

  it('past the interval (the stack\'s clock and the plugin\'s) the next prod call asks again, once; dev still never asks', async () => {
    clock.advance(2 * HOUR);
    const later = fakedToStack();
    // The stale certificate is not offered: the plugin asks before kubectl sends anything.
    const again = await onTerminal(getPods('prod-b'), later);
    expect(again.code, again.output).toBe(0);
    expect(again.prompts, again.output).toBe(1);
    expect(again.output).toContain('pod/web-1');
    const after = await onTerminal(['sh', '-c', [getPods('prod-a'), getPods('dev')].map((argv) => argv.map((a) => `'${a}'`).join(' ')).join(' && ')], later, false);
    expect(after.code, after.output).toBe(0);
    expect(after.prompts, after.output).toBe(0);
    expect(after.output.match(/pod\/web-1/g)).toHaveLength(2);
  }, 600_000);

  it('ztsh kube mfa --clusters prod-a on a terminal is what a script without one runs first', async () => {
    clock.advance(2 * HOUR);
    const later = fakedToStack();
    const refused = await runKubectl(kubectl133(), podsArgs('prod-a'), { env: later, timeoutMs: 120_000 });
    expect(refused.stderr).toContain('run "ztsh kube mfa --clusters prod-a" in a terminal first');
    const mfa = await onTerminal([process.execPath, ...ZTSH, 'kube', 'mfa', '--clusters', 'prod-a'], later);
    expect(mfa.code, mfa.output).toBe(0);
    expect(mfa.prompts).toBe(1);
    expect(mfa.output).toMatch(/Session MFA verified for prod-a until /);
    const ok = await runKubectl(kubectl133(), podsArgs('prod-a'), { env: later, timeoutMs: 120_000 });
    expect(ok.stdout.trim(), ok.stderr).toBe('pod/web-1');
    // It covers what was asked for, no more.
    const other = await runKubectl(kubectl133(), podsArgs('prod-b'), { env: later, timeoutMs: 120_000 });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('ztsh kube mfa --clusters prod-b');
    expect(existsSync(home.sessionMfaFile(k.stack.url))).toBe(true);
  }, 600_000);
});
