// `ztsh kube credentials` without the full command line: kubectl runs it
// before each command, so it loads only node built-ins and a few small
// modules (no commander, zod, x509 library or HTTP client); a session MFA
// check, which needs them, loads them when it has to ask. It reads ZTSH_HOME
// and --proxy the way the full CLI does (context.ts).
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { CliError, formatCliError } from '../cli-error.ts';
import { ZtshHome } from '../home.ts';
import { parseProxy } from '../proxy-address.ts';
import type { CredentialArgs } from './args.ts';
import { credentialOutput } from './credential-output.ts';

/** Prints the ExecCredential, or one error; returns the exit code. */
export async function runCredentialPlugin(args: CredentialArgs, env: Record<string, string | undefined>): Promise<number> {
  try {
    const home = new ZtshHome(env.ZTSH_HOME ?? join(homedir(), '.ztsh'));
    const proxy = args.proxy ? parseProxy(args.proxy) : home.currentProxy();
    // The same words and exit code as resolveProxy in context.ts.
    if (!proxy) throw new CliError('no proxy given and not logged in anywhere', 'run ztsh login --proxy https://access.example.com', 2);
    process.stdout.write(await credentialOutput(home, proxy, args, env, isatty(0)));
    return 0;
  } catch (error) {
    process.stderr.write(formatCliError(error, Boolean(env.ZTSH_DEBUG)));
    return error instanceof CliError ? error.exitCode : 1;
  }
}
