// What auditors type for a time bound, an event type and a session id, read
// the same way by the CLI (a usage error before anything is sent) and by the
// server (a 400 naming the parameter). The server decides on the value these
// return, never on the raw text.
import { AuditEventTypes } from './audit-events.ts';
import { ZtshError } from './errors.ts';

/** Longest span back from now a search may name: 100 years. */
export const MAX_SPAN_MS = 36_500 * 86_400_000;
/** Times a search may name: years 1970 to 9999 (what an ISO 8601 year of four digits says). */
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const TIME_HINT =
  'use now, an ISO 8601 time with Z or an offset (2026-11-23T10:00:00Z), a date (2026-11-23, UTC), or a span back from now like 30m, 24h or 7d';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
const SPAN = /^(\d+[smhd])+$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30m", "1h30m" → ms; undefined past what Date arithmetic holds. */
function spanMs(text: string): number | undefined {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** "now", "2026-11-23T10:00:00Z", "2026-11-23", or a span back from now: "30m", "24h", "7d". */
export function parseTimeBound(value: string, now: Date, name: string): Date {
  const bad = (why: string) => new ZtshError('bad_request', `${name}: "${value}" ${why}`, { hint: TIME_HINT });
  if (value === 'now') return new Date(now.getTime());
  if (SPAN.test(value)) {
    const span = spanMs(value);
    if (span === undefined) throw bad('is too long a span');
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

/**
 * An event type filter: a type of the catalogue, or a prefix ending in "." or
 * "*" (`kube.`, `session*`). Anything else would silently match nothing
 * (`kube` is no type), so it is refused, naming what is accepted.
 */
export function checkEventTypeFilter(value: string, name = 'type'): string {
  if (value in AuditEventTypes || /^[a-z_.]*[.*]$/.test(value)) return value;
  throw new ZtshError('bad_request', `${name}: "${value}" is neither an event type nor a prefix ending in "." or "*"`, {
    hint: `known types: ${Object.keys(AuditEventTypes).join(', ')}; or a prefix such as kube. or session*`,
  });
}

/** Session ids are UUIDs as node:crypto writes them: 36 characters of lowercase hex and dashes. */
export const SESSION_ID_LENGTH = 36;
/** The shortest prefix of a session id accepted in its place. */
export const SESSION_PREFIX_MIN = 4;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SESSION_PREFIX = /^[0-9a-f-]+$/;

export type SessionRef = { id: string } | { prefix: string };

/** A whole session id, or a prefix of one at least SESSION_PREFIX_MIN long: only the id's own characters. */
export function parseSessionRef(value: string, name = 'session'): SessionRef {
  const hint = `give the session id as ztsh recordings ls shows it, or its first ${SESSION_PREFIX_MIN} or more characters`;
  if (SESSION_ID.test(value)) return { id: value };
  if (value.length >= SESSION_ID_LENGTH || !SESSION_PREFIX.test(value)) throw new ZtshError('bad_request', `${name}: "${shown(value)}" is not a session id`, { hint });
  if (value.length < SESSION_PREFIX_MIN) throw new ZtshError('bad_request', `${name}: "${value}" is too short a prefix of a session id`, { hint });
  return { prefix: value };
}

/** At most 64 characters of what was given, so an error message stays one line of sane length. */
function shown(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}
