import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ZtshError } from '@ztsh/protocol';
import { agentOptionsFrom, loadAgentConfig } from './load-config.ts';
import { AGENT_VERSION } from './version.ts';

const log = pino({ level: 'silent' });

function configDir(yaml: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-agent-load-'));
  writeFileSync(join(dir, 'agent.yaml'), yaml);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const BASE = 'proxy: https://access.example.com\ncluster: edge\nstate_dir: state\n';
const KUBE = 'kube:\n  server: https://10.0.0.1:6443\n  token_file: sa-token\n  ca_file: kube-ca.crt\n';

function errorOf(fn: () => unknown): ZtshError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ZtshError) return error;
    throw error;
  }
  throw new Error('expected a ZtshError');
}

describe('loadAgentConfig', () => {
  it('makes every path in the file absolute against the file, and reads the files it names', () => {
    const dir = configDir(`${BASE}token_file: join-token\nproxy_ca_file: proxy-ca.crt\n${KUBE}`, {
      'join-token': 'ztsh_join_from_file\n',
      'proxy-ca.crt': 'PROXY CA\n',
      'sa-token': 'sa\n',
      'kube-ca.crt': 'KUBE CA\n',
    });
    const { config, baseDir } = loadAgentConfig(join(dir, 'agent.yaml'));
    expect(baseDir).toBe(dir);
    expect(config.state_dir).toBe(join(dir, 'state'));
    expect(config.token_file).toBe(join(dir, 'join-token'));
    expect(config.kube).toMatchObject({ token_file: join(dir, 'sa-token'), ca_file: join(dir, 'kube-ca.crt') });
    const options = agentOptionsFrom(config, {}, log);
    expect(options.token()).toBe('ztsh_join_from_file');
    expect(options.proxyCa).toBe('PROXY CA');
    expect(options.kube.ca).toBe('KUBE CA');
    expect(options.kube.token?.()).toBe('sa');
    expect(options.proxy.href).toBe('https://access.example.com/');
  });

  it('takes the join token from ZTSH_JOIN_TOKEN before the file, and an empty one does not count', () => {
    const dir = configDir(`${BASE}token: from-yaml\n${KUBE}`, { 'sa-token': 'sa', 'kube-ca.crt': 'x' });
    const { config } = loadAgentConfig(join(dir, 'agent.yaml'));
    expect(agentOptionsFrom(config, { ZTSH_JOIN_TOKEN: 'from-env' }, log).token()).toBe('from-env');
    expect(agentOptionsFrom(config, { ZTSH_JOIN_TOKEN: '' }, log).token()).toBe('from-yaml');
  });

  it('reads the token file only when asked (the first start), and names it when it is missing', () => {
    const dir = configDir(`${BASE}token_file: missing-token\n${KUBE}`, { 'sa-token': 'sa', 'kube-ca.crt': 'x' });
    const options = agentOptionsFrom(loadAgentConfig(join(dir, 'agent.yaml')).config, {}, log);
    expect(errorOf(() => options.token()).message).toBe(`cannot read token_file ${join(dir, 'missing-token')}`);
  });

  it('names the key, the path and the reason for a bad config', () => {
    const dir = configDir('proxy: http://x\ncluster: Edge\nstate_dir: s\nkube: { in_cluster: true }\nsurprise: 1\n');
    const error = errorOf(() => loadAgentConfig(join(dir, 'agent.yaml')));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain(join(dir, 'agent.yaml'));
    expect(error.message).toMatch(/surprise: unknown key/);
    expect(error.message).toMatch(/proxy: must be an https:\/\/ URL/);
    expect(error.message).toMatch(/cluster: must be lowercase/);
    expect(error.hint).toMatch(/docs\/deploy\.md/);
  });

  it('says so when the file is not YAML or cannot be read', () => {
    const dir = configDir('proxy: [unclosed\n');
    expect(errorOf(() => loadAgentConfig(join(dir, 'agent.yaml'))).message).toMatch(/not valid YAML/);
    expect(errorOf(() => loadAgentConfig(join(dir, 'nope.yaml'))).message).toBe(`cannot read agent config ${join(dir, 'nope.yaml')}`);
  });
});

describe('AGENT_VERSION', () => {
  it('is the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(AGENT_VERSION).toBe(pkg.version);
  });
});
