// How a kubeconfig runs this same ztsh later (the exec credential plugin):
//   installed (npm i -g): the real path of the bin script, e.g.
//     /usr/local/lib/node_modules/@ztsh/cli/bin/ztsh.js, which runs on its own;
//   a checkout's bin/ztsh.js that is not executable: node <that path>;
//   the TypeScript sources (tests, development): node with the loader and
//     conditions this process was started with, as absolute paths, since
//     kubectl runs the plugin from any directory.
import { accessSync, constants, realpathSync } from 'node:fs';

export interface SelfCommand {
  command: string;
  args: string[];
}

export function selfCommand(argv1: string | undefined = process.argv[1], execPath = process.execPath): SelfCommand {
  if (!argv1) throw new Error('cannot tell which script is running: process.argv[1] is empty');
  const script = realpathSync(argv1);
  if (/\.[cm]?ts$/.test(script)) {
    return { command: execPath, args: ['--conditions=source', '--import', import.meta.resolve('tsx'), script] };
  }
  try {
    accessSync(script, constants.X_OK);
    return { command: script, args: [] };
  } catch {
    return { command: execPath, args: [script] };
  }
}
