// Runs a command on a pseudo-terminal (util-linux `script`), so kubectl
// sees a real TTY: `kubectl exec -it` puts it in raw mode and sends resizes.
import { spawn, type ChildProcess } from 'node:child_process';

export interface TtyRun {
  child: ChildProcess;
  output(): string;
  type(text: string): void;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The terminal is `cols` x `rows` (script's own would be 0x0: its stdin is a pipe). */
export function runOnTty(argv: string[], env: NodeJS.ProcessEnv, size = { cols: 100, rows: 30 }): TtyRun {
  const command = `stty cols ${size.cols} rows ${size.rows}; exec ${argv.map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    text += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    type: (s) => child.stdin!.write(s),
    exited,
    waitFor: (re, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${String(re)} within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        const check = () => {
          if (!re.test(text)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}
