// Query parameters of the auditors' API, checked before anything is asked of
// the store: each given once, then against the schema the CLI builds them
// from (@ztsh/protocol's audit-query.ts), times and counts inside ranges the
// database and Date arithmetic handle. A bad value is the caller's mistake
// (400) with a message that says which parameter and what it takes, never a 500.
import type { Context } from 'koa';
import type { z } from 'zod';
import { MAX_QUERY_TEXT, queryProblem, ZtshError } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';

/** Longest span back from now a search may name: 100 years. */
export const MAX_SPAN_MS = 36_500 * 86_400_000;
/** Times a search may name: years 1970 to 9999 (what an ISO 8601 year of four digits says). */
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const TIME_HINT = 'use an ISO 8601 time with Z or an offset (2026-11-23T10:00:00Z), a date (2026-11-23, UTC), or a span back from now like 30m, 24h or 7d';

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

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** "2026-11-23T10:00:00Z", "2026-11-23", or a span back from now: "30m", "24h", "7d". */
export function parseTimeBound(value: string, now: Date, name: string): Date {
  const bad = (why: string) => new ZtshError('bad_request', `${name}: "${value}" ${why}`, { hint: TIME_HINT });
  if (/^(\d+[smhd])+$/.test(value)) {
    let span: number;
    try {
      span = parseDuration(value);
    } catch {
      throw bad('is too long a span');
    }
    if (span > MAX_SPAN_MS) throw bad('reaches back more than 100 years');
    return new Date(now.getTime() - span);
  }
  const m = DATE.exec(value) ?? DATE_TIME.exec(value);
  if (!m) throw bad('is not a time');
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Date would roll 2026-02-31 over into March: a day that does not exist is refused.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || calendar.getUTCDate() !== day || calendar.getUTCMonth() !== month - 1) throw bad('is not a day of the calendar');
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw bad('is not a time');
  if (time < MIN_TIME || time > MAX_TIME) throw bad('is outside the years 1970 to 9999');
  return new Date(time);
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
