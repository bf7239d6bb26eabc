// pnpm build, second step (after tsc -b): bundles the two programs that ship
// on their own, with every dependency inside, so they install and start
// without the workspace:
//   packages/cli/dist/     the ztsh CLI (tsc puts the library in dist/lib/) (npm package @ztsh/cli): entry.js and
//                          the chunks it loads; the credential plugin's chunk
//                          holds only node built-ins and a few small modules
//   packages/agent/dist/ztsh-agent.js   the agent image's one file
// Each gets THIRD-PARTY-LICENSES.txt naming the packages bundled into it.
// The metafiles (dist/*.meta.json) let tests check what a chunk pulls in.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const at = (path: string) => join(root, path);

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // Workspace packages are bundled from their TypeScript sources.
  conditions: ['source'],
  // CommonJS dependencies call require() for node built-ins; ESM output has none.
  banner: { js: "import { createRequire as __ztshRequire } from 'node:module'; const require = __ztshRequire(import.meta.url);" },
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
};

/** The packages whose files ended up in a bundle, each with its license text. */
function thirdPartyLicenses(meta: Metafile): string {
  const dirs = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(resolve(root, m[1]!));
  }
  const sections = [...dirs].sort().map((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const file = readdirSync(dir).find((name) => /^(licen[cs]e|copying)/i.test(name));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `(no license file; package.json says ${pkg.license ?? 'nothing'})`;
    return `${pkg.name} ${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`;
  });
  return `Packages bundled into this program, with their licenses.\n\n${sections.join('\n' + '-'.repeat(72) + '\n\n')}`;
}

/**
 * Replaces a file whole: a program started meanwhile reads the old file or
 * the new one, never one cut short. The test suite starts the CLI from its
 * bundle while the packaging tests run this build again.
 */
function writeWhole(path: string, data: string | Uint8Array): void {
  const next = `${path}.${process.pid}.next`;
  writeFileSync(next, data);
  renameSync(next, path);
}

async function bundle(name: string, outdir: string, options: BuildOptions): Promise<void> {
  const result = await build({ ...common, ...options, outdir, write: false });
  // The chunks first, then the entry points that import them: an entry point on disk finds its chunks whole.
  const entries = new Set(Object.entries(result.metafile!.outputs).filter(([, out]) => out.entryPoint).map(([file]) => resolve(file)));
  const files = [...result.outputFiles].sort((a, b) => Number(entries.has(a.path)) - Number(entries.has(b.path)));
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeWhole(file.path, file.contents);
  }
  writeWhole(join(outdir, `${name}.meta.json`), JSON.stringify(result.metafile));
  writeWhole(join(outdir, 'THIRD-PARTY-LICENSES.txt'), thirdPartyLicenses(result.metafile!));
  const bytes = Object.entries(result.metafile!.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .reduce((sum, [, out]) => sum + out.bytes, 0);
  process.stdout.write(`bundled ${name}: ${relative(root, outdir)} (${(bytes / 1024).toFixed(0)} KiB of JavaScript)\n`);
}

// The CLI: its npm package carries the project's license beside the bundle.
writeWhole(at('packages/cli/LICENSE'), readFileSync(at('LICENSE')));
// Splitting keeps the credential plugin's chunk apart from the full command line.
await bundle('ztsh', at('packages/cli/dist'), {
  entryPoints: { entry: at('packages/cli/src/entry.ts') },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // Kept small for npm: stack traces name the bundle's own functions.
  sourcemap: false,
});

// The agent. bufferutil is native (prebuilt per platform): the image installs
// it beside the bundle, and ws falls back to JavaScript masking without it.
await bundle('ztsh-agent', at('packages/agent/dist'), {
  entryPoints: { 'ztsh-agent': at('packages/agent/src/main.ts') },
  external: ['bufferutil', 'utf-8-validate'],
});
