// What the CLI prints when it fails: one line saying what happened, one
// line saying what to do. Exit code 1, or 2 for usage errors. Messages often
// carry the server's words: control characters in them are shown, not obeyed.
import { safeLines, safeText } from './terminal-safe.ts';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
    readonly code?: string,
  ) {
    super(message);
  }
}

export function formatCliError(error: unknown, debug: boolean): string {
  if (error instanceof CliError) {
    return `error: ${safeText(error.message)}${error.hint ? `\nhint: ${safeText(error.hint)}` : ''}\n`;
  }
  const detail = debug && error instanceof Error ? `\n${safeLines(error.stack)}` : '';
  return `error: ${safeText((error as Error)?.message ?? String(error))}\nhint: run again with ZTSH_DEBUG=1 for details, or report this as a bug${detail}\n`;
}
