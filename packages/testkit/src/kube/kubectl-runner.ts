// Test helpers for driving the REAL kubectl against the double (or anything else): find the
// versioned binaries next to the `kubectl` dispatcher on PATH, write a token kubeconfig, run a
// command to completion, or start a long-running one (get -w, logs -f, port-forward) and wait
// for a line on its output with a deadline — never a sleep.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';

/** Path of `kubectl.<version>` (e.g. "1.33") beside the kubectl on `pathEnv`, if present. */
export function findKubectl(version: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'kubectl');
    if (!existsSync(candidate)) continue;
    const versioned = join(dirname(realpathSync(candidate)), `kubectl.${version}`);
    return existsSync(versioned) ? versioned : undefined;
  }
  return undefined;
}

export interface KubeconfigOptions {
  server: string;
  caCert: string;
  token: string;
  namespace?: string;
}

export async function writeKubeconfig(path: string, o: KubeconfigOptions): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'double', cluster: { server: o.server, 'certificate-authority-data': Buffer.from(o.caCert).toString('base64') } }],
    users: [{ name: 'agent', user: { token: o.token } }],
    contexts: [{ name: 'double', context: { cluster: 'double', user: 'agent', namespace: o.namespace ?? 'default' } }],
    'current-context': 'double',
  };
  await writeFile(path, JSON.stringify(config), { mode: 0o600 }); // JSON is valid kubeconfig YAML
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
}

export function runKubectl(bin: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface RunningKubectl {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the first match of `re` in the output (past or future), or rejects at the deadline. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export function startKubectl(bin: string, args: string[], env: NodeJS.ProcessEnv): RunningKubectl {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    text += d.toString();
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const w of waiters) w();
  });

  return {
    child,
    output: () => text,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(text);
          if (m) finish(() => resolve(m));
          else if (gone) finish(() => reject(new Error(`kubectl exited before ${String(re)}; output:\n${text}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no ${String(re)} within ${timeoutMs} ms; output:\n${text}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!gone) child.kill('SIGTERM');
      await exited;
    },
  };
}
