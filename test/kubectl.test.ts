// kubectl through ztsh: the real kubectl 1.33 and 1.30, a kubeconfig written
// by `ztsh kube login`, the proxy, the tunnel, the agent, and the
// kube-apiserver test double behind it.
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKubectl, runKubectl, startKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoThrough } from './helpers/echo.ts';
import { runOnTty } from './helpers/tty.ts';
import { startKubeEnv, SA_TOKEN, type KubeEnv } from './helpers/kube-env.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1', { logs: ['started'] });
});
afterAll(() => k?.close());

for (const version of ['1.33', '1.30']) {
  describe(`kubectl ${version} through the proxy`, () => {
    const bin = findKubectl(version, process.env.PATH)!;
    const kubectl = (args: string[], input?: string) => runKubectl(bin, args, { env: k.env, timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });

    it('gets pods, impersonating exactly what alice\'s roles give', async () => {
      const before = k.kube.requests.length;
      const r = await kubectl(['get', 'pods']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/NAME\s+READY\s+STATUS/);
      expect(r.stdout).toMatch(/web-1/);
      const seen = k.kube.requests.slice(before).filter((q) => q.path.includes('/pods'));
      expect(seen.length).toBeGreaterThan(0);
      for (const q of seen) {
        expect(q.impersonatedUser).toBe('alice');
        expect(q.impersonatedGroups).toEqual(['developers']);
        expect(q.headers.authorization).toBe(`Bearer ${SA_TOKEN}`);
      }
    });

    it('watches: get -w shows a pod created after it started', async () => {
      const watch = startKubectl(bin, ['get', 'pods', '-w'], k.env);
      await watch.waitFor(/web-1/);
      k.kube.addPod('default', `late-${version.replace('.', '')}`);
      await watch.waitFor(new RegExp(`late-${version.replace('.', '')}`));
      await watch.stop();
    });

    it('follows logs: lines show as they are written', async () => {
      const logs = startKubectl(bin, ['logs', '-f', 'web-1'], k.env);
      await logs.waitFor(/started/);
      k.kube.appendLog('default', 'web-1', `line for ${version}`);
      await logs.waitFor(new RegExp(`line for ${version.replace('.', '\\.')}`));
      await logs.stop();
    });

    it('applies and deletes', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ztsh-apply-'));
      const file = join(dir, 'cm.yaml');
      writeFileSync(file, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-${version.replace('.', '')}\ndata:\n  mode: blue\n`);
      const created = await kubectl(['apply', '-f', file]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(/created/);
      writeFileSync(file, readFileSync(file, 'utf8').replace('blue', 'green'));
      expect((await kubectl(['apply', '-f', file])).stdout).toMatch(/configured/);
      const got = await kubectl(['get', 'configmap', `settings-${version.replace('.', '')}`, '-o', 'jsonpath={.data.mode}']);
      expect(got.stdout).toBe('green');
      expect((await kubectl(['delete', '-f', file])).stdout).toMatch(/deleted/);
    });

    it('exec -i round-trips stdin, and a non-zero exit comes back as kubectl\'s exit status', async () => {
      const cat = await kubectl(['exec', '-i', 'web-1', '--', 'cat'], `hello from ${version}\n`);
      expect(cat.code, cat.stderr).toBe(0);
      expect(cat.stdout).toBe(`hello from ${version}\n`);
      const failed = await kubectl(['exec', 'web-1', '--', 'sh', '-c', 'exit 3']);
      expect(failed.code).toBe(3);
    });

    it('exec -it: the shell has pwd and uname, and every line ends in CR LF as on a terminal', async () => {
      const tty = runOnTty([bin, 'exec', '-it', 'web-1', '--', 'sh'], k.env);
      await tty.waitFor(/\/ # $/);
      tty.type('cd /tmp\r');
      await tty.waitFor(/\/tmp # $/);
      tty.type('pwd; uname -a\r');
      await tty.waitFor(/\r\n\/tmp\r\nLinux web-1 [^\r\n]* GNU\/Linux\r\n\/tmp # $/);
      tty.type('exit\r');
      expect(await tty.exited).toBe(0);
      // Without a TTY the same output has LF alone.
      const plain = await kubectl(['exec', 'web-1', '--', 'sh', '-c', 'cd /tmp; pwd; uname']);
      expect(plain.stdout).toBe('/tmp\nLinux\n');
    });

    it('copies files both ways with kubectl cp', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ztsh-cp-'));
      writeFileSync(join(dir, 'in.txt'), `payload ${version}\n`);
      const up = await kubectl(['cp', join(dir, 'in.txt'), `web-1:/tmp/in-${version}.txt`]);
      expect(up.code, up.stderr).toBe(0);
      const down = await kubectl(['cp', `web-1:/tmp/in-${version}.txt`, join(dir, 'out.txt')]);
      expect(down.code, down.stderr).toBe(0);
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe(`payload ${version}\n`);
    });

    it('port-forwards bytes both ways', async () => {
      const pf = startKubectl(bin, ['port-forward', 'pod/web-1', `:${k.kube.echoServerPort}`], k.env);
      const [, port] = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+)/);
      const socket = connect(Number(port), '127.0.0.1');
      const echoed = await echoThrough(socket, 'ping-through');
      expect(echoed).toBe('ping-through');
      socket.destroy();
      await pf.stop();
    });

    it('refuses what the roles deny, with a clear error, and forwards nothing', async () => {
      const before = k.kube.requests.length;
      const secrets = await kubectl(['get', 'secrets']);
      expect(secrets.code).not.toBe(0);
      expect(secrets.stderr).toMatch(/access denied: role developer denies list secrets/);
      const deploy = await kubectl(['create', 'deployment', 'web', '--image=nginx']);
      expect(deploy.stderr).toMatch(/access denied: no role of alice allows create deployments in default/);
      const as = await kubectl(['get', 'pods', '--as', 'system:admin']);
      expect(as.stderr).toMatch(/access denied: alice may not impersonate user system:admin/);
      expect(k.kube.requests.slice(before).filter((q) => /secrets|deployments/.test(q.path) || q.impersonatedUser === 'system:admin')).toEqual([]);
    });
  });
}

describe('kubectl 1.29 (SPDY only)', () => {
  it('is told which kubectl version exec needs', async () => {
    const bin = findKubectl('1.29', process.env.PATH)!;
    const r = await runKubectl(bin, ['exec', 'web-1', '--', 'echo', 'hi'], { env: k.env, timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ztsh needs kubectl 1\.30 or newer/);
  });
});
