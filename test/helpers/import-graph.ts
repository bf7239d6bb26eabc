// What an entry point would load: esbuild bundles it in memory (nothing is
// written) and its metafile lists every file reached. Dynamic imports that
// `lazy` accepts are left out: they load only when a command asks for them.
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ImportGraph {
  /** Repository-relative paths of every file reached. */
  files: string[];
  /** npm packages reached (outermost node_modules folder name) and workspace packages (packages/NAME). */
  packages: Set<string>;
  /** The specifiers of the dynamic imports left out. */
  lazy: string[];
}

export async function importGraph(entry: string, lazy: (specifier: string, importer: string) => boolean = () => false): Promise<ImportGraph> {
  const leftOut: string[] = [];
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    outdir: 'graph-out',
    logLevel: 'silent',
    plugins: [
      {
        name: 'lazy',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind !== 'dynamic-import' || !lazy(args.path, relative(ROOT, args.importer))) return undefined;
            leftOut.push(args.path);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  const files = Object.keys(result.metafile.inputs);
  const packages = new Set(
    files.map((file) => {
      const inModules = [...file.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].at(-1);
      return inModules ? inModules[1]! : (/^packages\/[^/]+/.exec(file)?.[0] ?? file);
    }),
  );
  return { files, packages, lazy: leftOut };
}
