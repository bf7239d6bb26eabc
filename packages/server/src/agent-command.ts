// ztshd agent --config agent.yaml: the agent that runs in each cluster.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { parse } from 'yaml';
import { AgentConfigSchema, kubeTarget, startAgent, startAgentOps } from '@ztsh/agent';
import { parseConfig } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';

export function agentCommand(env: Record<string, string | undefined>, onSignals: (close: () => Promise<void>) => void): Command {
  return new Command('agent')
    .description('run the agent of one cluster: join with a token, dial the proxy, forward to the apiserver')
    .requiredOption('-c, --config <file>', 'path to agent.yaml (see docs/deploy.md)')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (options: { config: string; logLevel: string }) => {
      const path = resolve(options.config);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (cause) {
        throw new ZtshError('invalid_config', `cannot read agent config ${path}`, { cause });
      }
      const parsed = parseConfig(AgentConfigSchema, parse(text), path);
      const base = dirname(path);
      // Paths in the file are relative to the file.
      const at = (file: string | undefined) => (file ? resolve(base, file) : undefined);
      const config =
        'server' in parsed.kube
          ? {
              ...parsed,
              kube: {
                ...parsed.kube,
                token_file: at(parsed.kube.token_file),
                ca_file: at(parsed.kube.ca_file),
                client_certificate_file: at(parsed.kube.client_certificate_file),
                client_key_file: at(parsed.kube.client_key_file),
              },
            }
          : parsed;
      const readOptional = (file: string | undefined) => (file ? readFileSync(resolve(base, file), 'utf8').trim() : undefined);
      const log = pino({ level: options.logLevel, base: { svc: 'ztsh-agent' } });
      // Up before the join, so the probes answer (not ready) while the agent joins and dials.
      const ops = config.metrics ? await startAgentOps(config.metrics.listen, log) : undefined;
      const agent = await startAgent({
        proxy: new URL(config.proxy),
        cluster: config.cluster,
        labels: config.labels,
        stateDir: resolve(base, config.state_dir),
        // The token is needed once, to join; env ZTSH_JOIN_TOKEN overrides the file.
        token: () => env.ZTSH_JOIN_TOKEN ?? config.token ?? readOptional(config.token_file),
        proxyCa: readOptional(config.proxy_ca_file),
        kube: kubeTarget(config, env),
        log,
        metrics: ops?.metrics,
      });
      onSignals(async () => {
        await agent.stop();
        await ops?.close();
      });
    });
}
