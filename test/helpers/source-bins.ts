// Tests run the binaries from their TypeScript sources, never from a build
// that may be stale: node with tsx's loader and the "source" export
// condition (workspace packages export src/*.ts under it). Absolute paths
// throughout, so a child started in any directory (kubectl runs the
// credential plugin from its own) finds them. test/install.test.ts is the
// one test of the built and packed CLI.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** node options that run TypeScript sources: `node ...SOURCE_NODE_ARGS file.ts`. */
export const SOURCE_NODE_ARGS = ['--conditions=source', '--import', pathToFileURL(require.resolve('tsx')).href];

const source = (path: string) => fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));

/** `node ...ZTSHD <args>` runs ztshd from sources. */
export const ZTSHD = [...SOURCE_NODE_ARGS, source('server/src/main.ts')];

/** `node ...ZTSH <args>` runs the ztsh CLI from sources, through the same entry as the binary. */
export const ZTSH = [...SOURCE_NODE_ARGS, source('cli/src/entry.ts')];

/** `node ...ZTSH_AGENT <args>` runs ztsh-agent from sources. */
export const ZTSH_AGENT = [...SOURCE_NODE_ARGS, source('agent/src/main.ts')];
