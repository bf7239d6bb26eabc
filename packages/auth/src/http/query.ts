// Query parameters of the auditors' API, checked before anything is asked of
// the store: each given once, then against the schema the CLI builds them
// from (@ztsh/protocol's audit-query.ts), times and counts inside ranges the
// database and Date arithmetic handle. A bad value is the caller's mistake
// (400) with a message that says which parameter and what it takes, never a 500.
import type { Context } from 'koa';
import type { z } from 'zod';
import { MAX_QUERY_TEXT, parseTimeBound, queryProblem, ZtshError } from '@ztsh/protocol';

/** One query parameter, given at most once; undefined when absent or empty. */
export function param(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new ZtshError('bad_request', `${name}: give it once, not ${value.length} times`);
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_QUERY_TEXT) throw new ZtshError('bad_request', `${name}: longer than ${MAX_QUERY_TEXT} characters`);
  return value;
}

/** The parameters a schema names, each given at most once, parsed by it. */
export function queryOf<S extends z.ZodObject>(ctx: Context, schema: S): z.output<S> {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) raw[name] = param(ctx, name);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ZtshError('bad_request', queryProblem(parsed.error));
  return parsed.data;
}

/** since and until together: each a time, and since not after until. */
export function timeRange(sinceText: string | undefined, untilText: string | undefined, now: Date): { since: Date | undefined; until: Date | undefined } {
  const since = sinceText ? parseTimeBound(sinceText, now, 'since') : undefined;
  const until = untilText ? parseTimeBound(untilText, now, 'until') : undefined;
  if (since && until && since.getTime() > until.getTime()) {
    throw new ZtshError('bad_request', `since (${since.toISOString()}) is after until (${until.toISOString()})`, { hint: 'swap them, or leave one out' });
  }
  return { since, until };
}
