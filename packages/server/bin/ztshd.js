#!/usr/bin/env node
// Runs the compiled server (dist/, made by `pnpm build`). Development and
// tests run the sources instead: node --conditions=source --import tsx src/main.ts
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('error: ztshd is not built: run `pnpm build` in the ztsh checkout first (or `pnpm start` for the dev stack from sources)\n');
  process.exit(1);
}
await import(main.href);
