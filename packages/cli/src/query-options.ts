// Option values of the auditors' commands, checked with the very rules the
// server applies (@ztsh/protocol), before anything is sent: a value the
// server would refuse is a usage error here (exit 2), said the same way.
import { checkEventTypeFilter, parseSessionRef, parseTimeBound, ZtshError } from '@ztsh/protocol';
import { CliError } from './cli-error.ts';

function asUsageError<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ZtshError) throw new CliError(error.message, error.hint, 2);
    throw error;
  }
}

/** --since and --until: each a time the server reads, and since not after until. */
export function checkTimeOptions(options: { since?: string | undefined; until?: string | undefined }, now = new Date()): void {
  const since = options.since ? asUsageError(() => parseTimeBound(options.since!, now, '--since')) : undefined;
  const until = options.until ? asUsageError(() => parseTimeBound(options.until!, now, '--until')) : undefined;
  if (since && until && since.getTime() > until.getTime()) {
    throw new CliError(`--since (${options.since}) is after --until (${options.until})`, 'swap them, or leave one out', 2);
  }
}

/** --type: an event type or a prefix ending in "." or "*". */
export function checkTypeOption(type: string | undefined): void {
  if (type) asUsageError(() => checkEventTypeFilter(type, '--type'));
}

/** A session id or a unique prefix of one (at least 4 characters): the value to send. `name` is how errors call it. */
export function sessionOption(text: string, name: string): string {
  const ref = asUsageError(() => parseSessionRef(text, name));
  return 'id' in ref ? ref.id : ref.prefix;
}
