// The newcomer's path on the dev stack (what `pnpm start` runs) on a machine
// with no kubeconfig: log in, see the sandbox cluster, write the kubeconfig,
// use plain kubectl. The env is given explicitly, as `ztshd dev` gets
// process.env: the stack reads KUBECONFIG and HOME only from it.
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl, startKubectl } from '@ztsh/testkit';
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
/** alice's kubectl environment, once the first test has logged her in and written the kubeconfig. */
let kubeEnv: NodeJS.ProcessEnv = {};
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
    expect(ls.stdout).toMatch(/^CLUSTER\s+STATUS\s+MFA\s+LABELS\nsandbox\s+online\s+-\s+env=sandbox\n$/);
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
    kubeEnv = { PATH: process.env.PATH, HOME: home, ...env };
  });

  describe('the sandbox shows what ztsh does', () => {
    const kubectl = findKubectl('1.33', process.env.PATH)!;

    it('logs -f: lines keep coming, and the pod stops writing when kubectl goes', async () => {
      const logs = startKubectl(kubectl, ['logs', '-f', 'web-1'], kubeEnv);
      await logs.waitFor(/listening on :8080\n(.*\n)*GET \/healthz 200 \(kube-probe, check \d+\)\nGET \/healthz 200 \(kube-probe, check \d+\)\n/);
      await logs.stop();
      await expect.poll(() => stack.sandbox!.kube.logFollowers('default', 'web-1'), { timeout: 10_000 }).toBe(0);
    });

    it('port-forward to the port web-1 says it listens on gets an HTTP answer', async () => {
      const pf = startKubectl(kubectl, ['port-forward', 'pod/web-1', ':8080'], kubeEnv);
      try {
        const [, port] = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
        const res = await fetch(`http://127.0.0.1:${port}/from-the-laptop`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('hello from pod default/web-1, port 8080: you reached it through kubectl port-forward\n');
      } finally {
        await pf.stop();
      }
      const logs = await runKubectl(kubectl, ['logs', 'web-1'], { env: kubeEnv });
      expect(logs.stdout).toContain('GET /from-the-laptop 200\n');
    });

    it('exec: pwd and uname answer as in a pod', async () => {
      const r = await runKubectl(kubectl, ['exec', 'web-1', '--', 'sh', '-c', 'pwd; uname; uname -n'], { env: kubeEnv });
      expect(r).toMatchObject({ code: 0, stdout: '/\nLinux\nweb-1\n' });
    });
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
