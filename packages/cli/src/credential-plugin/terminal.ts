// The user's terminal, opened as /dev/tty: kubectl keeps the plugin's stdout
// for the ExecCredential and may send stderr elsewhere, so the question and
// the typed code go through the controlling terminal itself, as ssh and sudo
// do. The code is read in raw mode without echo; Ctrl-C or Ctrl-D cancels.
import { closeSync, openSync, writeSync } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';
import { CliError } from '../cli-error.ts';

export interface Terminal {
  write(text: string): void;
  /** Reads one code: digits only (spaces a user types between groups are dropped), ended by Enter. */
  readCode(prompt: string, timeoutMs: number): Promise<string>;
  close(): void;
}

const MAX_CODE_LENGTH = 16;

/** The controlling terminal, or undefined when the process has none. */
export function openTerminal(path = '/dev/tty'): Terminal | undefined {
  let inFd: number | undefined;
  let outFd: number | undefined;
  try {
    inFd = openSync(path, 'r');
    outFd = openSync(path, 'w');
    if (!isatty(inFd)) throw new Error(`${path} is not a terminal`);
  } catch {
    if (inFd !== undefined) closeSync(inFd);
    if (outFd !== undefined) closeSync(outFd);
    return undefined;
  }
  const out = outFd;
  const input = new ReadStream(inFd);
  input.setEncoding('utf8');
  input.pause();
  let closed = false;
  const write = (text: string) => {
    writeSync(out, text);
  };
  return {
    write,
    readCode(prompt, timeoutMs) {
      // Raw before the prompt shows: keys typed as soon as it appears are never echoed.
      input.setRawMode(true);
      write(prompt);
      return new Promise<string>((resolve, reject) => {
        let code = '';
        const finish = (error: CliError | undefined) => {
          clearTimeout(timer);
          input.off('data', onData);
          input.setRawMode(false);
          input.pause();
          write('\n');
          if (error) reject(error);
          else resolve(code);
        };
        const onData = (chunk: string) => {
          for (const ch of chunk) {
            if (ch === '\r' || ch === '\n') return finish(undefined);
            if (ch === '\u0003' || (ch === '\u0004' && code === '')) return finish(new CliError('cancelled: no code was entered'));
            if (ch === '\u007f' || ch === '\b') code = code.slice(0, -1);
            else if (/^[0-9]$/.test(ch) && code.length < MAX_CODE_LENGTH) code += ch;
          }
        };
        const timer = setTimeout(() => finish(new CliError(`no code was entered within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
        input.on('data', onData);
        input.resume();
      });
    },
    close() {
      if (closed) return;
      closed = true;
      // Destroying the stream closes its descriptor.
      input.destroy();
      closeSync(out);
    },
  };
}
