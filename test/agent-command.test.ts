// The agent as its own process, under both names: `ztsh-agent` (its own
// binary, run here from sources) and `ztshd agent` (the alias). Each joins
// with the token from the environment, dials the proxy, serves kubectl's
// requests, and closes its tunnel on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestTls, startKubeDouble, type KubeDouble } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { ZTSHD, ZTSH_AGENT } from './helpers/source-bins.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let stack: TestStack;
let kube: KubeDouble;
beforeAll(async () => {
  stack = await startTestStack();
  const tls = await createTestTls();
  kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token: 'sa' });
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-agent-cmd-'));
  writeFileSync(join(dir, 'kube-ca.crt'), tls.caCert);
  writeFileSync(join(dir, 'proxy-ca.crt'), stack.tlsCa);
  writeFileSync(join(dir, 'sa-token'), 'sa\n');
  for (const cluster of ['edge', 'edge-two']) {
    writeFileSync(
      join(dir, `${cluster}.yaml`),
      `proxy: ${stack.url.origin}\ncluster: ${cluster}\nlabels: { env: dev, region: eu }\nproxy_ca_file: proxy-ca.crt\nstate_dir: state-${cluster}\nkube:\n  server: ${kube.url.origin}\n  token_file: sa-token\n  ca_file: kube-ca.crt\n`,
    );
  }
  agentDir = dir;
});
let agentDir: string;
afterAll(async () => {
  await kube?.close();
  await stack?.close();
});

function joinToken(cluster: string): string {
  const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', cluster, '--data-dir', stack.dataDir, '--format', 'json'], { encoding: 'utf8' });
  return (JSON.parse(made.stdout) as { token: string }).token;
}

const online = (cluster: string) => stack.ztshd.proxy.tunnels.list().find((c) => c.name === cluster)?.online;

/** Starts the agent with `argv`, waits for its cluster to come online, stops it with SIGTERM; resolves with its exit code. */
async function runAgent(cluster: string, argv: string[]): Promise<number | null> {
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: { PATH: process.env.PATH, ZTSH_JOIN_TOKEN: joinToken(cluster) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await expect.poll(() => online(cluster) || (child.exitCode !== null && `exited: ${stderr}`), { timeout: 30_000 }).toBe(true);
    expect(stack.ztshd.proxy.tunnels.labels(cluster)).toEqual({ env: 'dev', region: 'eu' });
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  await expect.poll(() => online(cluster)).toBe(false);
  return code;
}

describe('ztsh-agent', () => {
  it('joins with ZTSH_JOIN_TOKEN, brings its cluster online, and exits 0 on SIGTERM', async () => {
    expect(await runAgent('edge-two', [...ZTSH_AGENT, '--config', join(agentDir, 'edge-two.yaml')])).toBe(0);
  });

  it('--version and --help answer and exit 0', () => {
    const version = spawnSync(process.execPath, [...ZTSH_AGENT, '--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toBe('0.1.0\n');
    const help = spawnSync(process.execPath, [...ZTSH_AGENT, '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: ztsh-agent \[options\]/);
    expect(help.stdout).toMatch(/-c, --config <file>/);
    expect(help.stdout).toMatch(/ZTSH_JOIN_TOKEN/);
  });

  it('a usage error exits 2 with one line and a hint', () => {
    for (const args of [[], ['--config', 'a.yaml', '--log-level', 'loud'], ['--config', 'a.yaml', '--no-such-flag']]) {
      const r = spawnSync(process.execPath, [...ZTSH_AGENT, ...args], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: [^\n]+\nhint: ztsh-agent --help shows the options\n$/);
    }
  });

  it('refuses a bad config naming the key, exit 1', () => {
    const bad = join(agentDir, 'bad.yaml');
    writeFileSync(bad, 'proxy: http://x\ncluster: Edge\nstate_dir: s\nkube: { in_cluster: true }\n');
    const r = spawnSync(process.execPath, [...ZTSH_AGENT, '--config', bad], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/proxy: must be an https:\/\/ URL/);
    expect(r.stderr).toMatch(/cluster: must be lowercase/);
    expect(r.stderr).toMatch(/hint: see docs\/deploy\.md/);
  });

  // Once built, the packaging tests run the bundle through this bin.
  it('without a build, the bin says to run pnpm build', () => {
    // The bin as a package without dist/ holds it: a copy beside no bundle.
    const bin = join(mkdtempSync(join(tmpdir(), 'ztsh-agent-bin-')), 'bin', 'ztsh-agent.js');
    mkdirSync(dirname(bin));
    copyFileSync(join(ROOT, 'packages/agent/bin/ztsh-agent.js'), bin);
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: ztsh-agent is not built: run pnpm build\n');
  });
});

describe('ztshd agent', () => {
  it('is the same command: joins, brings its cluster online, exits 0 on SIGTERM', async () => {
    expect(await runAgent('edge', [...ZTSHD, 'agent', '--config', join(agentDir, 'edge.yaml')])).toBe(0);
  });

  it('refuses a bad config naming the key', () => {
    const bad = join(agentDir, 'bad.yaml');
    writeFileSync(bad, 'proxy: http://x\ncluster: Edge\nstate_dir: s\nkube: { in_cluster: true }\n');
    const r = spawnSync(process.execPath, [...ZTSHD, 'agent', '--config', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/proxy: must be an https:\/\/ URL/);
    expect(r.stderr).toMatch(/cluster: must be lowercase/);
  });
});
