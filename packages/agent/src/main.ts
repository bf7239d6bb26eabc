// ztsh-agent: the agent's own binary. It loads only the agent, protocol and
// their libraries (no auth, proxy, database or Koa code: see
// import-graph.test.ts), so it can ship in a slim image of its own.
import { CommanderError } from 'commander';
import { errorLines, exitOnSignals } from '@ztsh/protocol';
import { agentCommand } from './command.ts';
import { AGENT_VERSION } from './version.ts';

/** Usage errors exit 2, everything else that fails exits 1 (docs/deploy.md). */
const USAGE = 2;

function fail(error: unknown): never {
  process.stderr.write(errorLines(error));
  process.exit(1);
}

const onSignals = (close: () => Promise<void>) => exitOnSignals(close, fail);

const program = agentCommand('ztsh-agent', { env: process.env, onSignals })
  .version(AGENT_VERSION, '-V, --version', 'print the version and exit')
  .helpOption('-h, --help', 'show this help')
  .showHelpAfterError('hint: ztsh-agent --help shows the options')
  .exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has already printed its message (and the hint); only the exit code is ours.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : USAGE);
  fail(error);
}
