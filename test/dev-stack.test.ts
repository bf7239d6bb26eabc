// The newcomer's path on the dev stack (what `pnpm start` runs) on a machine
// with no kubeconfig: log in, see the sandbox cluster, write the kubeconfig,
// use plain kubectl. The env is given explicitly, as `ztshd dev` gets
// process.env: the stack reads KUBECONFIG and HOME only from it.
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, newZtshHome } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { storeLogin } from './helpers/profile.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ env: {}, sandbox: true, kubeconfig: true });
});
afterAll(() => stack?.close());

describe('dev stack with the sandbox cluster', () => {
  it('shows the sandbox online, writes its kubeconfig context, and kubectl reaches its pods', async () => {
    expect(stack.cluster?.name).toBe('sandbox');
    expect(stack.kubeconfigNotUsed).toBe('no kubeconfig: neither KUBECONFIG nor HOME is set');
    const login = await httpLogin(stack.url, stack.tlsCa, DEV_USERS[0]!);
    const home = newZtshHome();
    storeLogin(home, stack.url, stack.tlsCa, login);
    const env = { ZTSH_HOME: home, KUBECONFIG: join(home, 'kubeconfig') };

    const ls = await cli(['kube', 'ls'], env);
    expect(ls.stdout).toMatch(/^CLUSTER\s+STATUS\s+LABELS\nsandbox\s+online\s+env=sandbox\n$/);
    const json = JSON.parse((await cli(['kube', 'ls', '--format', 'json'], env)).stdout);
    expect(json).toEqual([expect.objectContaining({ name: 'sandbox', online: true, labels: { env: 'sandbox' } })]);

    const kl = await cli(['kube', 'login', 'sandbox'], env);
    expect(kl.stdout).toMatch(new RegExp(`Context "localhost-sandbox" written to .*kubeconfig and made current`));
    const nope = await cli(['kube', 'login', 'prod'], env);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toMatch(/cluster "prod" not found, or your roles do not reach it\nhint: ztsh kube ls/);

    const pods = await runKubectl(findKubectl('1.33', process.env.PATH)!, ['get', 'pods'], { env: { PATH: process.env.PATH, HOME: home, ...env } });
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout).toMatch(/web-1/);
    expect(pods.stdout).toMatch(/api-1/);
  });
});

describe('ztshd dev in a production install', () => {
  it('says in one line that the dev stack needs a development checkout, and starts nothing', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-dev-prod-'));
    // The hook makes @ztsh/testkit unresolvable, as it is where only production dependencies are installed.
    const hook = fileURLToPath(new URL('./fixtures/without-testkit.mjs', import.meta.url));
    const ztshd = fileURLToPath(new URL('../packages/server/bin/ztshd.js', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', hook, ztshd, 'dev', '--data-dir', dataDir, '--port', '0'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: the dev stack needs a development checkout: run pnpm install in the repository (this install has no @ztsh/testkit)\n');
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
