// The CLI as users get it: `pnpm build`, pack @ztsh/cli, `npm install -g` the
// tarball into an empty prefix with no workspace and no registry (--offline:
// the package has no dependencies to fetch), then log in to a live dev stack
// with the installed `ztsh` and drive the real kubectl through it.
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { parse } from 'yaml';
import { ZtshHome } from '@ztsh/cli';
import { DEV_USERS } from '@ztsh/server';
import { FormClient, findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, newZtshHome, runCli, type ZtshCommand } from './helpers/cli.ts';
import { httpLogin, totpNow } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// bob logs in with the installed ztsh (alice's TOTP code of this half-minute went to startKubeEnv's login).
const [, bob, carol] = DEV_USERS as [unknown, (typeof DEV_USERS)[number], (typeof DEV_USERS)[number]];

function must(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const r = spawnSync(command, args, { ...options, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let prefix: string;
let ztsh: ZtshCommand;
let k: KubeEnv;
let home: string;
let env: Record<string, string>;
let kubectl: string;

beforeAll(async () => {
  must('pnpm', ['build'], { cwd: ROOT });
  const packed = mkdtempSync(join(tmpdir(), 'ztsh-pack-'));
  must('pnpm', ['--filter', '@ztsh/cli', 'pack', '--pack-destination', packed], { cwd: ROOT });
  const tarball = join(packed, readdirSync(packed).find((f) => /^ztsh-cli-.*\.tgz$/.test(f))!);
  // An empty prefix, run from an empty folder with an empty npm cache: nothing of the workspace to lean on.
  prefix = mkdtempSync(join(tmpdir(), 'ztsh-prefix-'));
  const outside = mkdtempSync(join(tmpdir(), 'ztsh-npm-'));
  must('npm', ['install', '-g', tarball, '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], {
    cwd: outside,
    env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, HOME: outside, npm_config_cache: join(outside, 'cache') },
  });
  ztsh = { command: join(prefix, 'bin', 'ztsh'), args: [] };
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
  home = newZtshHome();
  // The installed ztsh runs on the node first on PATH (its #! line): this one.
  env = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, HOME: home, ZTSH_HOME: home, KUBECONFIG: join(home, 'kubeconfig') };
  kubectl = findKubectl('1.33', process.env.PATH)!;
}, 600_000);
afterAll(() => k?.close());

describe('the CLI installed from its npm tarball', () => {
  it('is one package with no dependencies, and prints its version', async () => {
    const pkgDir = join(prefix, 'lib', 'node_modules', '@ztsh', 'cli');
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string; license: string; dependencies?: object };
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.license).toBe('Apache-2.0');
    expect(existsSync(join(pkgDir, 'LICENSE'))).toBe(true);
    expect(existsSync(join(pkgDir, 'node_modules'))).toBe(false);
    const r = await cli(['--version'], env, ztsh);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('logs in, writes a kubeconfig that runs the installed ztsh (--exec-plugin), and kubectl gets pods through it', async () => {
    const login = runCli(['login', '--proxy', k.stack.url.origin, '--no-browser', '--ca-file', k.stack.tlsCaFile, '--timeout', '60s'], env, ztsh);
    const [url] = await login.waitFor(/https:\/\/localhost:\d+\/login\/\S+/);
    // The browser's part, over HTTP: the dev IdP's form, then the TOTP form; the last redirect reaches ztsh's callback.
    const forms = new FormClient({ ca: k.stack.tlsCa });
    const mfa = await forms.submitForm(await forms.get(url), { username: bob.username, password: bob.password });
    const done = await forms.submitForm(mfa, { code: totpNow(bob.totpSecret!) }, { formAction: '/mfa/totp' });
    await forms.close();
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback/);
    expect(await login.exit, login.stderr()).toBe(0);

    const kubeLogin = await cli(['kube', 'login', 'sandbox', '--exec-plugin'], env, ztsh);
    expect(kubeLogin.code, kubeLogin.stderr).toBe(0);
    const config = parse(readFileSync(env.KUBECONFIG!, 'utf8')) as { users: { user: { exec: { command: string; args: string[] } } }[] };
    const exec = config.users[0]!.user.exec;
    expect(exec.command).toBe(realpathSync(join(prefix, 'bin', 'ztsh')));
    expect(exec.command.startsWith(realpathSync(prefix))).toBe(true);
    expect(exec.args).toEqual(['kube', 'credentials', '--proxy', k.stack.url.origin, '--cluster', 'sandbox']);

    const creds = await cli(exec.args, env, ztsh);
    expect(creds.code, creds.stderr).toBe(0);
    const profile = new ZtshHome(home).readProfile(k.stack.url)!;
    expect(JSON.parse(creds.stdout)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: profile.certPem, clientKeyData: profile.keyPem, expirationTimestamp: new Date(new X509Certificate(profile.certPem).validTo).toISOString() },
    });

    const pods = await runKubectl(kubectl, ['get', 'pods'], { env, timeoutMs: 60_000 });
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout).toMatch(/web-1/);
  });

  it('kubectl shows a locked user the lock, in one clear line', async () => {
    const locks = k.stack.ztshd.auth.deps.locks;
    const lock = await locks.add({ target: { user: 'bob' }, message: 'incident 7', createdBy: 'test' });
    try {
      const r = await runKubectl(kubectl, ['get', 'pods'], { env, timeoutMs: 60_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toBe(`Error from server (Forbidden): access locked for user bob: incident 7 (lock ${lock.id})`);
    } finally {
      await locks.remove(lock.id, 'test');
    }
  });

  it('serves 20 kubectl processes at once (xargs -P 20)', async () => {
    // Asynchronously: the stack runs in this process and must keep answering.
    const script = `seq 40 | xargs -P 20 -I{} "$0" get pods -o name`;
    const child = spawn('sh', ['-c', script, kubectl], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toEqual(Array(40).fill('pod/web-1'));
  }, 300_000);

  it('gives each of 20 concurrent callers a matching key and certificate while logins keep replacing the profile', async () => {
    const h = new ZtshHome(home);
    const first = h.readProfile(k.stack.url)!;
    // Another valid pair for the same proxy: carol's login.
    const again = await httpLogin(k.stack.url, k.stack.tlsCa, carol);
    const second = { ...first, certPem: again.json.certificate as string, keyPem: again.keys.privateKey };
    const out = mkdtempSync(join(tmpdir(), 'ztsh-creds-'));
    const script = `seq 100 | xargs -P 20 -I{} sh -c 'exec "$0" kube credentials --proxy "$1" --cluster sandbox > "$2/{}.json"' "$0" "$1" "$2"`;
    const callers = spawn('sh', ['-c', script, ztsh.command, k.stack.url.origin, out], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    callers.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => callers.on('close', resolve));
    let running = true;
    void exited.then(() => (running = false));
    let swaps = 0;
    while (running) {
      h.writeProfile(k.stack.url, swaps++ % 2 ? first : second);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // bob's profile again for the tests after this one, whichever pair was written last.
    h.writeProfile(k.stack.url, first);
    expect(await exited, stderr).toBe(0);
    expect(stderr).toBe('');
    expect(swaps).toBeGreaterThan(1);
    const pairs = new Set([first, second].map((p) => p.certPem + p.keyPem));
    const files = readdirSync(out);
    expect(files.length).toBe(100);
    for (const file of files) {
      const { status } = JSON.parse(readFileSync(join(out, file), 'utf8')) as { status: { clientCertificateData: string; clientKeyData: string } };
      expect(pairs.has(status.clientCertificateData + status.clientKeyData)).toBe(true);
    }
  }, 300_000);

  it('writes the certificate file form by default, which kubectl reads without starting ztsh', async () => {
    const kubeLogin = await cli(['kube', 'login', 'sandbox'], env, ztsh);
    expect(kubeLogin.code, kubeLogin.stderr).toBe(0);
    const file = new ZtshHome(home).credentialFile(k.stack.url);
    const config = parse(readFileSync(env.KUBECONFIG!, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    expect(config.users[0]!.user).toEqual({ 'client-certificate': file, 'client-key': file });
    // No PATH: no node, no ztsh for kubectl to start.
    const pods = await runKubectl(kubectl, ['get', 'pods', '-o', 'name'], { env: { HOME: home, KUBECONFIG: env.KUBECONFIG }, timeoutMs: 60_000 });
    expect(pods.stdout.trim(), pods.stderr).toBe('pod/web-1');
  });

  it('loads nothing but node built-ins and its own small modules on the credential path', () => {
    // What the built entry pulls in for `kube credentials`: its static imports and the plugin's chunk, transitively.
    const meta = JSON.parse(readFileSync(join(ROOT, 'packages/cli/dist/ztsh.meta.json'), 'utf8')) as Metafile;
    const outputs = meta.outputs;
    const entry = Object.keys(outputs).find((f) => outputs[f]!.entryPoint?.endsWith('src/entry.ts'))!;
    const plugin = Object.keys(outputs).find((f) => outputs[f]!.inputs['packages/cli/src/credential-plugin/run.ts'])!;
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file) || !outputs[file]) return;
      loaded.add(file);
      for (const i of outputs[file]!.imports) if (i.kind === 'import-statement') visit(i.path);
    };
    visit(entry);
    visit(plugin);
    const inputs = [...loaded].flatMap((f) => Object.keys(outputs[f]!.inputs));
    expect(inputs).toContain('packages/cli/src/credential-plugin/exec-credential.ts');
    expect(inputs.filter((i) => i.includes('node_modules') || !i.startsWith('packages/cli/src/'))).toEqual([]);
    const builtins = [...loaded].flatMap((f) => outputs[f]!.imports.filter((i) => i.external).map((i) => i.path));
    expect(builtins.every((b) => b.startsWith('node:'))).toBe(true);
    expect([...loaded].reduce((sum, f) => sum + outputs[f]!.bytes, 0)).toBeLessThan(40_000);
  });
});
