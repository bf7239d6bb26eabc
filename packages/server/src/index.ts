export * from './config.ts';
export * from './start.ts';
export * from './dev-stack.ts';
export * from './tls.ts';
