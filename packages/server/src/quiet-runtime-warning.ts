// oidc-provider, the dev IdP behind `ztshd dev` (pnpm start), prints
// "Unsupported runtime. Use Node.js v22.x LTS…" when it is imported on Node
// 20. It is harmless here: the dev IdP is for development only, its tests pass
// on Node 20 and 24 (.ci/run runs both), and `ztshd start` with a real IdP
// never loads it. This drops that one line and lets every other warning through.
// Imported first by main.ts, before anything that imports oidc-provider.
const PREFIX = 'oidc-provider WARNING: Unsupported runtime.';
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].replace(/\x1b\[[\d;]*m/g, '').startsWith(PREFIX)) return;
  warn(...args);
};
