// oidc-provider, the dev IdP behind `ztshd dev` (pnpm start), prints
// "Unsupported runtime. Use Node.js v22.x LTS…" when it is imported on Node
// 20. It is harmless: only the dev IdP uses it, for development and tests,
// which pass on Node 20 and on 24 (.ci/run runs both); a real deployment signs
// users in at its own IdP. This drops that one line and lets every other
// warning through.
// Imported first by main.ts, before anything that imports oidc-provider.
const PREFIX = 'oidc-provider WARNING: Unsupported runtime.';
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].replace(/\x1b\[[\d;]*m/g, '').startsWith(PREFIX)) return;
  warn(...args);
};
