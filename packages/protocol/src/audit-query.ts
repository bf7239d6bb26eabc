// The auditors' queries as they travel: the query parameters of
// GET /v1/audit/events, GET /v1/recordings and GET /v1/audit/export. The CLI
// builds its requests from these schemas and ztshd checks what arrives
// against them, so both agree on every name and bound. Each value is a
// string on the wire; the schemas parse them into what the store is asked.
// since and until stay text here: what "7d" means depends on the server's
// clock, so ztshd reads them (and says what it takes) itself.
import { z } from 'zod';
import { SESSION_KINDS } from './session-record.ts';

/** The longest value any parameter may have. */
export const MAX_QUERY_TEXT = 1024;
/** At most this many events or sessions in one answer. */
export const MAX_PAGE = 1000;
/** Events or sessions in an answer that names no limit. */
export const DEFAULT_PAGE = 100;

const Text = z.string().max(MAX_QUERY_TEXT, `longer than ${MAX_QUERY_TEXT} characters`);

/**
 * Words to search for: no control characters (a NUL ends an FTS5 query
 * early, which then fails as an unterminated phrase).
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const SearchText = Text.refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'control characters are not searched for');

/** A whole number written as plain digits (no sign, exponent, hex or fraction) from min to max. */
export function wholeNumberParam(min: number, max: number) {
  return z.string().transform((raw, ctx) => {
    const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({ code: 'custom', message: `"${raw.slice(0, 64)}" must be a whole number from ${min} to ${max}` });
    return z.NEVER;
  });
}

const Outcome = z.string().transform((raw, ctx) => {
  if (raw === 'success' || raw === 'failure') return raw;
  ctx.addIssue({ code: 'custom', message: `"${raw.slice(0, 64)}" must be success or failure` });
  return z.NEVER;
});

const Kind = z.string().transform((raw, ctx) => {
  const kind = SESSION_KINDS.find((k) => k === raw);
  if (kind) return kind;
  ctx.addIssue({ code: 'custom', message: `"${raw.slice(0, 64)}" must be ${SESSION_KINDS.slice(0, -1).join(', ')} or ${SESSION_KINDS.at(-1)}` });
  return z.NEVER;
});

/** "true" or "false". */
const Flag = z.string().transform((raw, ctx) => {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  ctx.addIssue({ code: 'custom', message: `"${raw.slice(0, 64)}" must be true or false` });
  return z.NEVER;
});

/** A sequence number or a time in ms: plain digits that fit a safe integer. */
function safeWhole(text: string): number | undefined {
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

const NOT_A_CURSOR = 'not a page cursor from an earlier answer';

/** Where the next page of events starts: `<time>_<seq>` of the last event of the one before (newest first). */
export const AuditCursor = z.string().transform((raw, ctx) => {
  const m = /^(\d{4}-\d{2}-\d{2}T[\d:.]+Z)_(\d+)$/.exec(raw);
  const seq = m ? safeWhole(m[2]!) : undefined;
  if (m && seq !== undefined && Number.isFinite(Date.parse(m[1]!))) return { time: m[1]!, seq };
  ctx.addIssue({ code: 'custom', message: NOT_A_CURSOR });
  return z.NEVER;
});

export function auditCursor(event: { time: string; seq: number }): string {
  return `${event.time}_${event.seq}`;
}

/** Where the next page of sessions starts: `<startedAt ms>_<id>` of the last session of the one before. */
export const SessionCursor = z.string().transform((raw, ctx) => {
  const m = /^(\d+)_(.+)$/.exec(raw);
  const startedAt = m ? safeWhole(m[1]!) : undefined;
  if (m && startedAt !== undefined) return { startedAt, id: m[2]! };
  ctx.addIssue({ code: 'custom', message: NOT_A_CURSOR });
  return z.NEVER;
});

export function sessionCursor(session: { startedAt: number; id: string }): string {
  return `${session.startedAt}_${session.id}`;
}

const PageSize = wholeNumberParam(1, MAX_PAGE);

/** An access request id as the server makes them (base64url); the bound is the one CertificateReissueRequest sets. */
const AccessRequestId = z.string().regex(/^(?=[_-]*[A-Za-z0-9])[A-Za-z0-9_-]{1,64}$/, 'must be an access request id (ztsh request ls shows them)');

/** GET /v1/audit/events: newest first. */
export const AuditSearchParams = z.object({
  user: Text.optional(),
  cluster: Text.optional(),
  /** An exact type, or a prefix ending in "." or "*" ("kube.", "session.*"). */
  type: Text.optional(),
  outcome: Outcome.optional(),
  /** A session id: the events of that session. */
  session: Text.optional(),
  /** An access request id: its own steps and everything done under it (fields.accessRequest or fields.accessRequests). */
  request: AccessRequestId.optional(),
  since: Text.optional(),
  until: Text.optional(),
  /** Words or a phrase, matched against the message and every field. */
  q: SearchText.optional(),
  limit: PageSize.optional(),
  before: AuditCursor.optional(),
});
export type AuditSearchParams = z.input<typeof AuditSearchParams>;

/** GET /v1/recordings: sessions, newest first. */
export const RecordingsParams = z.object({
  user: Text.optional(),
  cluster: Text.optional(),
  kind: Kind.optional(),
  since: Text.optional(),
  until: Text.optional(),
  /** Words or a phrase, matched against the command and what was typed and shown. */
  q: SearchText.optional(),
  limit: PageSize.optional(),
  before: SessionCursor.optional(),
});
export type RecordingsParams = z.input<typeof RecordingsParams>;

/** GET /v1/audit/export: JSON lines, oldest first, after the event with this seq; follow keeps it open. */
export const AuditExportParams = z.object({
  after: wholeNumberParam(0, Number.MAX_SAFE_INTEGER).optional(),
  follow: Flag.optional(),
});
export type AuditExportParams = z.input<typeof AuditExportParams>;

/** The query string of a request: empty and absent values are left out. */
export function queryString(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) q.set(name, value);
  return q.toString();
}

/** The first problem zod found, as "<parameter>: <what is wrong>". */
export function queryProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'query'}: ${issue.message}` : 'query: not understood';
}
