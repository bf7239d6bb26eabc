// What deploy/Dockerfile puts in its two images, made here with the same
// pnpm commands (no Docker engine needed): compiled JavaScript and production
// dependencies only, the login and web page assets found from dist/, and an
// agent that is one bundled file plus bufferutil. (The Dockerfile also
// compiles better-sqlite3 for the image's Node; here its scripts are skipped.)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function must(command: string, args: string[], cwd = ROOT): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const deploy = (pkg: string, out: string, ...config: string[]) =>
  must('pnpm', ['--config.inject-workspace-packages=true', '--config.ignore-scripts=true', ...config, '--filter', pkg, 'deploy', '--prod', '--offline', out]);

// (Type packages that some dependencies list as their own are inert files, and stay.)
const DEV_ONLY = ['typescript', 'vitest', 'vite@', 'esbuild', 'tsx', 'playwright-core', 'fast-check'];

let ztshd: string;
let agentDeps: string;
beforeAll(() => {
  must('pnpm', ['build']);
  ztshd = join(mkdtempSync(join(tmpdir(), 'ztsh-image-')), 'ztshd');
  deploy('@ztsh/server', ztshd);
  agentDeps = join(mkdtempSync(join(tmpdir(), 'ztsh-image-')), 'agent');
  deploy('@ztsh/agent', agentDeps, '--config.node-linker=hoisted');
}, 600_000);

describe('the ztshd image', () => {
  it('holds dist/ of each workspace package and no TypeScript sources or build and test tools', () => {
    expect(existsSync(join(ztshd, 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(ztshd, 'src'))).toBe(false);
    const workspace = join(ztshd, 'node_modules', '@ztsh');
    for (const pkg of readdirSync(workspace)) {
      expect(readdirSync(join(workspace, pkg)).filter((f) => f !== 'node_modules').sort(), pkg).toEqual(pkg === 'auth' ? ['assets', 'dist', 'package.json'] : pkg === 'agent' ? ['bin', 'dist', 'package.json'] : ['dist', 'package.json']);
    }
    const installed = readdirSync(join(ztshd, 'node_modules', '.pnpm'));
    expect(installed.filter((name) => DEV_ONLY.some((dev) => name.startsWith(dev)))).toEqual([]);
  });

  it('starts from dist, and finds the login and web page assets from there', () => {
    expect(must(process.execPath, [join(ztshd, 'bin', 'ztshd.js'), '--version']).trim()).toBe('0.1.0');
    const auth = join(ztshd, 'node_modules', '@ztsh', 'auth', 'dist', 'routes');
    const script = `
      const { assetRoutes } = await import(${JSON.stringify(pathToFileURL(join(auth, 'assets.js')).href)});
      const { webAssets } = await import(${JSON.stringify(pathToFileURL(join(auth, 'web-assets.js')).href)});
      assetRoutes();
      console.log(webAssets().href('asciinema-player.js'));`;
    expect(must(process.execPath, ['--input-type=module', '-e', script], ztshd).trim()).toMatch(/^\/web\/assets\/[\w-]{16}\/asciinema-player\.js$/);
  });
});

describe('the agent image', () => {
  it('runs the one bundled file with only bufferutil beside it', () => {
    const app = mkdtempSync(join(tmpdir(), 'ztsh-agent-image-'));
    cpSync(join(ROOT, 'packages/agent/dist/ztsh-agent.js'), join(app, 'ztsh-agent.js'));
    mkdirSync(join(app, 'node_modules'));
    for (const dep of ['bufferutil', 'node-gyp-build']) cpSync(join(agentDeps, 'node_modules', dep), join(app, 'node_modules', dep), { recursive: true });
    const r = spawnSync(process.execPath, [join(app, 'ztsh-agent.js'), '--help'], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: ztsh-agent/);
    const loaded = spawnSync(process.execPath, ['-e', 'require("bufferutil"); console.log("ok")'], { cwd: app, encoding: 'utf8' });
    expect(loaded.stdout.trim(), loaded.stderr).toBe('ok');
  });

  it('has no auth, proxy, SQLite, Koa or x509 code in it', () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'packages/agent/dist/ztsh-agent.meta.json'), 'utf8')) as Metafile;
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((i) => i.startsWith('packages/agent/src/'))).toBe(true);
    const foreign = inputs.filter((i) => /better-sqlite3|\/koa|@koa|@peculiar|openid-client|packages\/(proxy|testkit)\/|packages\/auth\/src\/(?!config-errors\.ts$)/.test(i));
    expect(foreign).toEqual([]);
  });
});
