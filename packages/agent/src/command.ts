// The agent's command line, one definition for both names it runs under:
// `ztsh-agent` (its own binary, main.ts) and `ztshd agent` (an alias kept for
// images and scripts that call it so).
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { startAgent } from './agent.ts';
import { agentOptionsFrom, loadAgentConfig } from './load-config.ts';
import { startAgentOps } from './metrics.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface AgentCommandContext {
  env: Record<string, string | undefined>;
  /** Called once the agent runs, with what stops it (the entry wires SIGINT/SIGTERM to it). */
  onSignals: (close: () => Promise<void>) => void;
}

const ENVIRONMENT = `
Environment:
  ZTSH_JOIN_TOKEN          join token, used once on the first start (before token and token_file in the file)
  KUBERNETES_SERVICE_HOST  set by Kubernetes in a pod; read when the file says kube: { in_cluster: true }
  KUBERNETES_SERVICE_PORT

The agent.yaml keys are in docs/deploy.md. It logs JSON lines (pino) to stdout;
SIGINT or SIGTERM closes the tunnel and exits.`;

export function agentCommand(name: string, context: AgentCommandContext): Command {
  return new Command(name)
    .description('run the agent of one cluster: join with a token, dial the proxy, forward to the apiserver')
    .requiredOption('-c, --config <file>', 'path to agent.yaml')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addHelpText('after', ENVIRONMENT)
    .action(async (options: { config: string; logLevel: string }) => {
      const { config } = loadAgentConfig(options.config);
      const log = pino({ level: options.logLevel, base: { svc: 'ztsh-agent' } });
      // Up before the join, so the probes answer (not ready) while the agent joins and dials.
      const ops = config.metrics ? await startAgentOps(config.metrics.listen, log) : undefined;
      const agent = await startAgent({ ...agentOptionsFrom(config, context.env, log), metrics: ops?.metrics });
      context.onSignals(async () => {
        await agent.stop();
        await ops?.close();
      });
    });
}
