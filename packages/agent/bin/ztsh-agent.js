#!/usr/bin/env node
// The installed ztsh-agent: runs the bundle `pnpm build` makes from
// src/main.ts. From a checkout without a build: node --import tsx src/main.ts.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/ztsh-agent.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('error: ztsh-agent is not built: run pnpm build\n');
  process.exit(1);
}
await import(bundle.href);
