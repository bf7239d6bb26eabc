// One replica of `ztshd dev --replicas N`: a `ztshd start --config` child
// process, as a deployment runs it, so `kill -9` of one is a real replica
// dying. Its output goes to a log file beside its config; the port it bound
// (it listens on port 0) is read from its "ztshd listening" log line; its
// pid is written to ztshd.pid for whoever wants to kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ZtshError } from '@ztsh/protocol';
import { listeningPort } from './listening-line.ts';

export interface ReplicaProcessOptions {
  name: string;
  /** Holds ztsh.yaml; ztshd.log and ztshd.pid are written here. */
  dir: string;
  /** How to run ztshd: the program and the arguments before the subcommand. */
  ztshd: { command: string; args: string[] };
  env: Record<string, string | undefined>;
  /** How long the replica may take to listen (a first start runs the migrations). */
  startTimeoutMs?: number;
}

export interface ReplicaProcess {
  name: string;
  pid: number;
  /** 127.0.0.1 and the port the replica bound. */
  host: string;
  port: number;
  logFile: string;
  pidFile: string;
  isUp(): boolean;
  /** Resolves when the process has exited, with how. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (ztshd closes cleanly), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function startReplicaProcess(options: ReplicaProcessOptions): Promise<ReplicaProcess> {
  const config = join(options.dir, 'ztsh.yaml');
  const logFile = join(options.dir, 'ztshd.log');
  const pidFile = join(options.dir, 'ztshd.pid');
  const log = createWriteStream(logFile, { flags: 'w', mode: 0o600 });
  // Its own process group: Ctrl-C reaches `ztshd dev` alone, which stops the replicas after the agent.
  const child: ChildProcess = spawn(options.ztshd.command, [...options.ztshd.args, 'start', '--config', config], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      resolve({ code, signal });
    });
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
  let up = true;
  void exited.then(() => (up = false));
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  void exited.then(() => log.end());
  /** The last lines it wrote, for the error when it does not start. */
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 8) tail.shift();
  };
  createInterface({ input: child.stderr! }).on('line', keep);

  const port = await new Promise<number>((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ZtshError('unavailable', `replica ${options.name} did not start within ${timeoutMs / 1000} s`, { hint: `its log: ${logFile}` }));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const listening = listeningPort(line);
      if (listening !== undefined) {
        clearTimeout(timer);
        resolve(listening);
      } else if (!line.startsWith('{')) keep(line);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      const said = tail.join('\n').trim();
      reject(new ZtshError('unavailable', `replica ${options.name} exited at start (${signal ?? `status ${code}`})${said ? `:\n${said}` : ''}`, { hint: `its log: ${logFile}` }));
    });
  });
  writeFileSync(pidFile, `${child.pid}\n`);
  // A pid file outliving its process would name whatever gets that pid next.
  void exited.then(() => rmSync(pidFile, { force: true }));

  return {
    name: options.name,
    pid: child.pid!,
    host: '127.0.0.1',
    port,
    logFile,
    pidFile,
    isUp: () => up,
    exited,
    async stop(graceMs = 10_000) {
      if (!up) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
