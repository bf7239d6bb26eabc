export * from './agent.ts';
export * from './config.ts';
export { ensureHostIdentity } from './join.ts';
export { createAgentMetrics, startAgentOps, type AgentMetrics, type AgentOps } from './metrics.ts';
