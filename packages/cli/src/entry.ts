// The ztsh binary's entry point. kubectl runs `ztsh kube credentials` before
// each command, so that path loads the small credential-plugin modules only;
// every other command line loads the full CLI (main.ts).
import { credentialArgs } from './credential-plugin/args.ts';

const args = credentialArgs(process.argv.slice(2));
if (args) {
  const { runCredentialPlugin } = await import('./credential-plugin/run.ts');
  process.exitCode = await runCredentialPlugin(args, process.env);
} else {
  await import('./main.ts');
}
