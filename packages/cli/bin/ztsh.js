#!/usr/bin/env node
// Runs the bundled CLI (dist/, made by `pnpm build`; the npm package ships
// it). Development and tests run the sources instead:
//   node --conditions=source --import tsx src/entry.ts
import { existsSync } from 'node:fs';

const entry = new URL('../dist/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('error: ztsh is not built: run `pnpm build` in the ztsh checkout first\n');
  process.exit(1);
}
await import(entry.href);
