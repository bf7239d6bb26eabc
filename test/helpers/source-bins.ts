// Tests run the binaries from their TypeScript sources, never from a build
// that may be stale: node with tsx's loader and the "source" export
// condition (workspace packages export src/*.ts under it). The ztsh CLI is
// the exception when its bundle (packages/cli/dist/entry.js, what ships) is
// newer than every source file: `pnpm test` builds it first, and it starts
// about three times quicker than the sources through tsx, which adds up
// over the suite's thousand-odd CLI and credential-plugin runs. Absolute paths
// throughout, so a child started in any directory (kubectl runs the
// credential plugin from its own) finds them. test/install.test.ts is the
// one test of the built and packed CLI.
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** node options that run TypeScript sources: `node ...SOURCE_NODE_ARGS file.ts`. */
export const SOURCE_NODE_ARGS = ['--conditions=source', '--import', pathToFileURL(require.resolve('tsx')).href];

const source = (path: string) => fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));

/** `node ...ZTSHD <args>` runs ztshd from sources. */
export const ZTSHD = [...SOURCE_NODE_ARGS, source('server/src/main.ts')];

/** The newest modification time of the packages' non-test sources. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  const packages = source('');
  for (const name of readdirSync(packages)) {
    try {
      walk(join(packages, name, 'src'));
    } catch {
      // a folder without src/
    }
  }
  return newest;
}

/** The CLI bundle when it is fresh (built after the last source change), else undefined. */
function freshCliBundle(): string | undefined {
  const bundle = source('cli/dist/entry.js');
  try {
    return statSync(bundle).mtimeMs > newestSource() ? bundle : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `node ...ZTSH <args>` runs the ztsh CLI through the same entry as the
 * binary: its fresh bundle, or its sources.
 */
export const ZTSH_BUNDLE = freshCliBundle();
export const ZTSH = ZTSH_BUNDLE ? [ZTSH_BUNDLE] : [...SOURCE_NODE_ARGS, source('cli/src/entry.ts')];

/** `node ...ZTSH_AGENT <args>` runs ztsh-agent from sources. */
export const ZTSH_AGENT = [...SOURCE_NODE_ARGS, source('agent/src/main.ts')];
