export * from './agent.ts';
export * from './config.ts';
export { ensureHostIdentity } from './join.ts';
