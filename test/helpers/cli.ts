// Runs the real ztsh CLI as a child process, the way a user would: from its
// sources (source-bins.ts), or from any other command, e.g. the installed
// binary (test/install.test.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZTSH } from './source-bins.ts';

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stderr+stdout match the pattern; returns the match. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exit: Promise<number>;
}

export function newZtshHome(): string {
  return mkdtempSync(join(tmpdir(), 'ztsh-home-'));
}

/** How to start ztsh: a program and the arguments before the CLI's own. */
export interface ZtshCommand {
  command: string;
  args: string[];
}

export const ZTSH_FROM_SOURCES: ZtshCommand = { command: process.execPath, args: ZTSH };

export function runCli(args: string[], env: Record<string, string>, ztsh: ZtshCommand = ZTSH_FROM_SOURCES): CliRun {
  const child = spawn(ztsh.command, [...ztsh.args, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: env.ZTSH_HOME ?? tmpdir(), BROWSER: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const notify = () => waiters.forEach((w) => w());
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    notify();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    notify();
  });
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (err + out).match(pattern);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => reject(new Error(`CLI output never matched ${pattern}:\n${out}\n${err}`)), timeoutMs);
        waiters.push(check);
        void exit.then(() => setTimeout(check, 0));
        check();
      });
    },
  };
}

/** Runs the CLI to completion. */
export async function cli(args: string[], env: Record<string, string>, ztsh?: ZtshCommand): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = runCli(args, env, ztsh);
  const code = await run.exit;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Runs the CLI with --format json and parses what it prints; throws with its stderr when it fails. */
export async function cliJson<T>(args: string[], env: Record<string, string>): Promise<T> {
  const r = await cli([...args, '--format', 'json'], env);
  if (r.code !== 0) throw new Error(`ztsh ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
