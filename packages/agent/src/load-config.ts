// agent.yaml from disk: parsed as YAML, checked by AgentConfigSchema, with
// every path in it made absolute against the file's folder, and turned into
// the options startAgent takes. The join token comes from ZTSH_JOIN_TOKEN
// (a Kubernetes Secret as env), else `token`, else `token_file`.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Logger } from 'pino';
import { parseConfig, ZtshError } from '@ztsh/protocol';
import type { AgentOptions } from './agent.ts';
import { AgentConfigSchema, kubeTarget, type AgentConfig } from './config.ts';

const HINT = 'see docs/deploy.md (agent.yaml) for every key';

export interface LoadedAgentConfig {
  config: AgentConfig;
  path: string;
  /** The file's folder: relative paths in it are relative to this. */
  baseDir: string;
}

export function loadAgentConfig(file: string): LoadedAgentConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ZtshError('invalid_config', `cannot read agent config ${path}`, { cause, hint: 'give the file with --config' });
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (cause) {
    throw new ZtshError('invalid_config', `${path}: not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { cause, hint: HINT });
  }
  const parsed = parseConfig(AgentConfigSchema, value, path, '', HINT);
  const baseDir = dirname(path);
  const at = (p: string | undefined) => (p === undefined ? undefined : resolve(baseDir, p));
  const config: AgentConfig = {
    ...parsed,
    state_dir: resolve(baseDir, parsed.state_dir),
    token_file: at(parsed.token_file),
    proxy_ca_file: at(parsed.proxy_ca_file),
    kube:
      'server' in parsed.kube
        ? {
            ...parsed.kube,
            token_file: at(parsed.kube.token_file),
            ca_file: at(parsed.kube.ca_file),
            client_certificate_file: at(parsed.kube.client_certificate_file),
            client_key_file: at(parsed.kube.client_key_file),
          }
        : parsed.kube,
  };
  return { config, path, baseDir };
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new ZtshError('invalid_config', `cannot read ${what} ${path}`, { cause });
  }
}

/** What startAgent needs, from a loaded config and the process environment. */
export function agentOptionsFrom(config: AgentConfig, env: Record<string, string | undefined>, log: Logger): AgentOptions {
  return {
    proxy: new URL(config.proxy),
    cluster: config.cluster,
    labels: config.labels,
    stateDir: config.state_dir,
    // Asked for only when the agent has no host certificate yet (its first start).
    token: () => env.ZTSH_JOIN_TOKEN || config.token || (config.token_file ? readSecretFile(config.token_file, 'token_file') : undefined),
    proxyCa: config.proxy_ca_file ? readSecretFile(config.proxy_ca_file, 'proxy_ca_file') : undefined,
    kube: kubeTarget(config, env),
    transport: config.tunnel,
    log,
  };
}
