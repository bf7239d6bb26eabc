// `ztshd agent --config agent.yaml` as its own process: joins with the token
// from the environment, dials the proxy, serves kubectl's requests.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestTls, startKubeDouble, type KubeDouble } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { ZTSHD } from './helpers/source-bins.ts';

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
  writeFileSync(
    join(dir, 'agent.yaml'),
    `proxy: ${stack.url.origin}\ncluster: edge\nlabels: { env: dev, region: eu }\nproxy_ca_file: proxy-ca.crt\nstate_dir: state\nkube:\n  server: ${kube.url.origin}\n  token_file: sa-token\n  ca_file: kube-ca.crt\n`,
  );
  agentDir = dir;
});
let agentDir: string;
afterAll(async () => {
  await kube?.close();
  await stack?.close();
});

describe('ztshd agent', () => {
  it('joins with ZTSH_JOIN_TOKEN and brings its cluster online', async () => {
    const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', 'edge', '--data-dir', stack.dataDir, '--format', 'json'], { encoding: 'utf8' });
    const token = (JSON.parse(made.stdout) as { token: string }).token;
    const child = spawn(process.execPath, [...ZTSHD, 'agent', '--config', join(agentDir, 'agent.yaml')], { env: { PATH: process.env.PATH, ZTSH_JOIN_TOKEN: token }, stdio: 'ignore' });
    try {
      await expect.poll(() => stack.ztshd.proxy.tunnels.list().find((c) => c.name === 'edge')?.online, { timeout: 20_000 }).toBe(true);
      expect(stack.ztshd.proxy.tunnels.labels('edge')).toEqual({ env: 'dev', region: 'eu' });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
    }
    await expect.poll(() => stack.ztshd.proxy.tunnels.list().find((c) => c.name === 'edge')?.online).toBe(false);
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
