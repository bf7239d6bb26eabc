// Query parameters of the auditors' API, checked before anything is asked of
// the store: each given once, times and counts inside ranges the database and
// Date arithmetic handle. A bad value is the caller's mistake (400) with a
// message that says which parameter and what it takes, never a 500.
import type { Context } from 'koa';
import { parseTimeBound, ZtshError } from '@ztsh/protocol';

const MAX_TEXT = 1024;

/** One query parameter, given at most once; undefined when absent or empty. */
export function param(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new ZtshError('bad_request', `${name}: give it once, not ${value.length} times`);
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_TEXT) throw new ZtshError('bad_request', `${name}: longer than ${MAX_TEXT} characters`);
  return value;
}

/**
 * Words to search for: no control characters (a NUL ends an FTS5 query
 * early, which then fails as an unterminated phrase).
 */
export function searchText(ctx: Context, name: string): string | undefined {
  const value = param(ctx, name);
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (value !== undefined && /[\u0000-\u001f\u007f]/.test(value)) throw new ZtshError('bad_request', `${name}: control characters are not searched for`);
  return value;
}

/** since and until together: each a time, and since not after until. */
export function timeRange(ctx: Context, now: Date): { since: Date | undefined; until: Date | undefined } {
  const sinceText = param(ctx, 'since');
  const untilText = param(ctx, 'until');
  const since = sinceText ? parseTimeBound(sinceText, now, 'since') : undefined;
  const until = untilText ? parseTimeBound(untilText, now, 'until') : undefined;
  if (since && until && since.getTime() > until.getTime()) {
    throw new ZtshError('bad_request', `since (${since.toISOString()}) is after until (${until.toISOString()})`, { hint: 'swap them, or leave one out' });
  }
  return { since, until };
}

/** A whole number written as plain digits (no sign, exponent, hex or fraction) from min to max. */
export function wholeNumber(ctx: Context, name: string, min: number, max: number, fallback: number): number {
  const raw = param(ctx, name);
  if (raw === undefined) return fallback;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ZtshError('bad_request', `${name}: "${raw}" must be a whole number from ${min} to ${max}`);
  return n;
}

/** "true" or "false" (absent: false). */
export function flag(ctx: Context, name: string): boolean {
  const raw = param(ctx, name);
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ZtshError('bad_request', `${name}: "${raw}" must be true or false`);
}

/** A sequence number from an earlier answer. */
export function seqOf(text: string): number | undefined {
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
