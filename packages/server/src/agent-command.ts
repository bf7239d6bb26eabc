// ztshd agent --config agent.yaml: the same command as the ztsh-agent binary
// (packages/agent), kept under ztshd for images and scripts that call it so.
import type { Command } from 'commander';
import { agentCommand as agentPackageCommand } from '@ztsh/agent';

export function agentCommand(env: Record<string, string | undefined>, onSignals: (close: () => Promise<void>) => void): Command {
  return agentPackageCommand('agent', { env, onSignals });
}
