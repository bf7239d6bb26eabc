// What the CLI prints when it fails: one line saying what happened, one
// line saying what to do. Exit code 1, or 2 for usage errors.
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
    return `error: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}\n`;
  }
  const detail = debug && error instanceof Error ? `\n${error.stack}` : '';
  return `error: ${(error as Error)?.message ?? String(error)}\nhint: run again with ZTSH_DEBUG=1 for details, or report this as a bug${detail}\n`;
}
