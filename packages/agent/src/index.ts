export * from './agent.ts';
export * from './config.ts';
export { ensureHostIdentity } from './join.ts';
export { createAgentMetrics, startAgentOps, type AgentMetrics, type AgentOps } from './metrics.ts';
export { agentCommand, type AgentCommandContext } from './command.ts';
export { agentOptionsFrom, loadAgentConfig, type LoadedAgentConfig } from './load-config.ts';
