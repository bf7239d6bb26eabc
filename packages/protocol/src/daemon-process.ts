// What ztshd and ztsh-agent share as long-running processes: how a failure
// is printed, and how SIGINT/SIGTERM end them.
import { ZtshError } from './errors.ts';

/** A failure as the user reads it: one line and a hint for a ZtshError, the stack for anything unexpected. */
export function errorLines(error: unknown): string {
  if (error instanceof ZtshError) return `error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`;
  return `error: ${(error as Error)?.stack ?? String(error)}\n`;
}

/**
 * SIGINT or SIGTERM runs `close` once and exits 0 (or hands its failure to
 * `fail`); a second signal while closing stops waiting and exits 1.
 */
export function exitOnSignals(close: () => Promise<void>, fail: (error: unknown) => never): void {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) process.exit(1);
      closing = true;
      close().then(() => process.exit(0), fail);
    });
  }
}
