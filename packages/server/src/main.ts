// ztshd: the access plane's server binary.
// @peculiar/x509 resolves its services through tsyringe, which needs the
// Reflect metadata API loaded before it is imported.
import 'reflect-metadata';
import './quiet-runtime-warning.ts';
import { resolve } from 'node:path';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { errorLines, exitOnSignals } from '@ztsh/protocol';
import { loadConfigFile } from './config.ts';
import { startFromConfig } from './start.ts';
import { tokensCommand } from './tokens-command.ts';
import { locksCommand } from './locks-command.ts';
import { agentCommand } from './agent-command.ts';
import { addressInUseLine } from './listen-error.ts';
import { loadDevModules } from './dev-modules.ts';
import { devStorage, replicaCount, type DevPostgresFlags } from './replicas-flags.ts';

const VERSION = '0.1.0';
const env = process.env;

/** remedy: what to do when the address is in use, in this command's terms. */
function fail(error: unknown, remedy = 'give it another address to listen on'): never {
  // commander has said what is wrong, or shown the help or version asked for: usage errors exit 2.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  const inUse = addressInUseLine(error, remedy);
  process.stderr.write(inUse ?? errorLines(error));
  process.exit(1);
}

const onSignals = (close: () => Promise<void>) => exitOnSignals(close, (error) => fail(error));

// `ztshd tokens ls | head`: a reader that has had enough is no error (the status a tool killed by SIGPIPE has).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(141);
  throw error;
});

/** --port: a whole number a socket can bind (0: any free port). */
function portNumber(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new InvalidArgumentError('a port is a whole number from 0 to 65535.');
  return port;
}

const program = new Command('ztshd')
  .description('ztsh access plane server: auth service and proxy')
  .version(VERSION)
  // Throw instead of exiting, here and in every subcommand (they inherit it): fail() exits 2 for usage errors.
  .exitOverride();

program
  .command('start')
  .description('run the auth service and proxy from a config file (both by default; `services` in the file runs one alone)')
  .requiredOption('-c, --config <file>', 'path to ztsh.yaml')
  .action(async (options: { config: string }) => {
    try {
      const loaded = loadConfigFile(options.config);
      const log = pino({ level: loaded.config.log_level, base: { svc: 'ztshd' } });
      const running = await startFromConfig({ config: loaded.config, baseDir: loaded.baseDir, env, log });
      onSignals(running.close);
    } catch (error) {
      fail(error, `give another port in the listen address of ${options.config} (proxy.listen, auth.listen)`);
    }
  });

program
  .command('dev')
  .description(
    'run everything on this machine: ztshd, the dev IdP, demo users, and a cluster behind an agent: ' +
      "your kubeconfig's current context when its apiserver is local and answers, else the sandbox test double (development only)",
  )
  .option('--data-dir <dir>', 'where the database, CA keys and TLS files live', '.ztsh-dev')
  .option('--host <address>', 'address to bind', '127.0.0.1')
  .option('--port <port>', 'port of the proxy; another one runs a second dev stack beside the first (0: any free port)', portNumber, 3080)
  .addOption(new Option('--sandbox-only', 'serve the sandbox test double; do not look at the kubeconfig').conflicts('kubeContext'))
  .option('--kube-context <name>', 'serve this kubeconfig context instead of the current one, wherever its apiserver is')
  .option('--split', 'run auth and the proxy apart (two listeners speaking HTTPS), as services: [auth] and [proxy] do')
  .addOption(
    new Option('--replicas <n>', 'run N replicas (1 to 16; auth and proxy in each, as `ztshd start` processes) on the --postgres database, behind haproxy (installed, e.g. apt-get install haproxy) on --port')
      .argParser(replicaCount)
      .conflicts('split'),
  )
  .addOption(
    new Option('--postgres <url>', 'the PostgreSQL database the replicas share, e.g. postgres://ztsh@127.0.0.1:5432/ztsh (no password in it: set PGPASSWORD, or give --postgres-password-file); without --replicas, one replica').conflicts(
      'split',
    ),
  )
  .option('--postgres-password-file <file>', 'a file holding the database password')
  .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('warn'))
  .action(async (options: DevOptions) => {
    try {
      const postgres = devStorage(options, env);
      if (postgres) return await devReplicas(options, postgres);
      // Loaded only here: the dev IdP is a development tool, not part of a production ztshd.
      const { startDevStack, trustForCli, devBanner } = await loadDevModules();
      const log = pino({ level: options.logLevel, base: { svc: 'ztshd' } });
      const dataDir = resolve(options.dataDir);
      const sandboxOnly = options.sandboxOnly === true;
      const stack = await startDevStack({
        dataDir,
        host: options.host,
        port: options.port,
        log,
        env,
        sandbox: true,
        kubeconfig: !sandboxOnly,
        kubeContext: options.kubeContext,
        split: options.split === true,
      });
      const ztshHome = env.ZTSH_HOME ?? join(homedir(), '.ztsh');
      const trustFile = trustForCli(ztshHome, stack.url, stack.ztshd.tls.selfSignedCa!);
      process.stdout.write(
        devBanner({ stack, users: stack.users, dataDir, tlsCaFile: stack.ztshd.tls.caFile!, trustFile, host: options.host, sandboxOnly }),
      );
      onSignals(stack.close);
    } catch (error) {
      fail(error, `run this one on another port with --port ${options.port > 0 && options.port < 65535 ? options.port + 1 : 3081}`);
    }
  });

interface DevOptions extends DevPostgresFlags {
  dataDir: string;
  host: string;
  port: number;
  logLevel: string;
  sandboxOnly?: boolean;
  kubeContext?: string;
  split?: boolean;
}

/** `ztshd dev --replicas N --postgres URL`: the replicas behind haproxy (dev-replicas.ts). */
async function devReplicas(options: DevOptions, postgres: NonNullable<ReturnType<typeof devStorage>>): Promise<void> {
  const { startDevReplicas, trustForCli, devBanner } = await loadDevModules();
  const log = pino({ level: options.logLevel, base: { svc: 'ztshd' } });
  const dataDir = resolve(options.dataDir);
  const sandboxOnly = options.sandboxOnly === true;
  const stack = await startDevReplicas({
    dataDir,
    host: options.host,
    port: options.port,
    replicas: postgres.replicas,
    storage: postgres.storage,
    // The replicas are this same ztshd (sources through tsx, or the build); a debugger's flags stay with this process.
    ztshd: { command: process.execPath, args: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), process.argv[1]!] },
    replicaLogLevel: options.logLevel === 'debug' ? 'debug' : 'info',
    log,
    env,
    kubeconfig: !sandboxOnly,
    kubeContext: options.kubeContext,
    onReplicaExit: (replica, how, all) => {
      const up = all.filter((r) => r.isUp());
      process.stderr.write(
        `ztshd dev: replica ${replica.name} (pid ${replica.pid}) exited (${how.signal ?? `status ${how.code}`}); up: ${up.map((r) => r.name).join(', ') || 'none'} (${up.length} of ${all.length}); its log: ${replica.logFile}\n`,
      );
    },
  });
  const ztshHome = env.ZTSH_HOME ?? join(homedir(), '.ztsh');
  const trustFile = trustForCli(ztshHome, stack.url, stack.tls.selfSignedCa!);
  const replicas = {
    frontPid: stack.front.pid,
    list: stack.replicas.map((r) => ({ name: r.name, pid: r.pid, host: r.host, port: r.port, up: r.isUp() })),
    store: postgres.storage.url!,
    dir: stack.replicasDir,
  };
  process.stdout.write(devBanner({ stack, users: stack.users, dataDir, tlsCaFile: stack.tls.caFile!, trustFile, host: options.host, sandboxOnly, replicas }));
  onSignals(stack.close);
}

program.addCommand(tokensCommand((t) => process.stdout.write(t)));
program.addCommand(locksCommand((t) => process.stdout.write(t)));
program.addCommand(agentCommand(env, onSignals));
// Added commands do not inherit exitOverride as those made with .command() do.
const throwOnExit = (command: Command): void => {
  command.exitOverride();
  command.commands.forEach(throwOnExit);
};
throwOnExit(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  fail(error);
}
