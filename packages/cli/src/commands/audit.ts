// ztsh audit search | verify | export: the auditors' view of the audit log.
import { AuditExportParams, AuditSearchParams, AuditSearchResponse, AuditVerifyResponse, queryString, type AuditEvent } from '@ztsh/protocol';
import type { z } from 'zod';
import { CliError } from '../cli-error.ts';
import { withUserApi, type CliContext } from '../context.ts';
import { localTime } from '../local-time.ts';
import { checkTimeOptions, checkTypeOption, sessionOption } from '../query-options.ts';
import { formatTable } from '../table.ts';
import { safeJson, safeJsonText, safeText } from '../terminal-safe.ts';

export interface AuditSearchOptions {
  proxy?: string;
  user?: string;
  cluster?: string;
  type?: string;
  outcome?: string;
  session?: string;
  request?: string;
  since?: string;
  until?: string;
  query?: string;
  limit: string;
  format: string;
}

/** What an event was about, in a few words: the request, or the event's message. */
export function eventSummary(e: AuditEvent): string {
  const f = e.fields as Record<string, unknown>;
  if (e.type === 'kube.request') {
    const where = [f.namespace, f.name].filter(Boolean).join('/');
    const what = f.resource ? `${String(f.resource)}${f.subresource ? '/' + String(f.subresource) : ''}${where ? ' ' + where : ''}` : String(f.path ?? '');
    return `${String(f.verb ?? '')} ${what} → ${String(f.status ?? '')}${e.success ? '' : `: ${e.message ?? ''}`}`.trim();
  }
  return e.message ?? '';
}

function query(options: Omit<AuditSearchOptions, 'format' | 'proxy'>, before?: string): string {
  return checkedQuery(AuditSearchParams, {
    user: options.user,
    cluster: options.cluster,
    type: options.type,
    outcome: options.outcome,
    session: options.session,
    request: options.request,
    since: options.since,
    until: options.until,
    q: options.query,
    limit: options.limit,
    before,
  });
}

/**
 * The query string of an auditors' request, checked against the schema the
 * server checks it with: a value it would refuse is a usage error here.
 */
export function checkedQuery<S extends z.ZodObject>(schema: S, params: z.input<S> & Record<string, string | undefined>): string {
  const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v)) as z.input<S>;
  const checked = schema.safeParse(given);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const name = String(issue.path[0] ?? 'query');
    throw new CliError(`--${name === 'q' ? 'query' : name}: ${issue.message}`, undefined, 2);
  }
  return queryString(params);
}

export function parseLimit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--limit: "${text}" must be a whole number above 0`, undefined, 2);
  return n;
}

export async function auditSearch(ctx: CliContext, options: AuditSearchOptions): Promise<void> {
  const want = parseLimit(options.limit);
  checkTimeOptions(options);
  checkTypeOption(options.type);
  if (options.session) options = { ...options, session: sessionOption(options.session, '--session') };
  const events = await withUserApi(ctx, options.proxy, async (api) => {
    const found: AuditEvent[] = [];
    let before: string | undefined;
    while (found.length < want) {
      const page = await api.call('GET', `/v1/audit/events?${query({ ...options, limit: String(Math.min(1000, want - found.length)) }, before)}`, AuditSearchResponse);
      found.push(...page.events);
      if (!page.next) break;
      before = page.next;
    }
    return found;
  });
  if (options.format === 'json') {
    ctx.stdout(safeJson(events));
    return;
  }
  if (events.length === 0) {
    ctx.stdout('No events match.\n');
    return;
  }
  const rows = events.map((e) => [
    localTime(e.time),
    e.type,
    e.user ?? '-',
    String((e.fields as Record<string, unknown>).cluster ?? '-'),
    e.success ? 'ok' : 'FAILED',
    eventSummary(e),
  ]);
  const head = ['TIME', 'TYPE', 'USER', 'CLUSTER', 'OUTCOME', 'WHAT'];
  ctx.stdout(formatTable(head, rows));
  if (events.length === want) ctx.stderr(`(showing the newest ${want}; --limit shows more)\n`);
}

export async function auditVerify(ctx: CliContext, options: { proxy?: string; format: string }): Promise<void> {
  const verdict = await withUserApi(ctx, options.proxy, (api) => api.call('GET', '/v1/audit/verify', AuditVerifyResponse));
  if (options.format === 'json') ctx.stdout(safeJson(verdict));
  else if (verdict.ok) ctx.stdout(`The audit log is intact: ${safeText(verdict.events)} events, each linked to the one before.\nLast event ${safeText(verdict.lastSeq)}, hash ${safeText(verdict.lastHash)}\n`);
  if (!verdict.ok) {
    throw new CliError(
      `the audit log is broken at event ${verdict.brokenAt}: ${verdict.problem}`,
      `events before ${verdict.brokenAt} check out; compare event ${verdict.brokenAt} with a backup or an export your SIEM holds`,
    );
  }
}

export async function auditExport(ctx: CliContext, options: { proxy?: string; after: string; follow?: boolean }): Promise<void> {
  const after = Number(options.after);
  if (!Number.isInteger(after) || after < 0) throw new CliError(`--after: "${options.after}" must be an event number (0 for the beginning)`, undefined, 2);
  await withUserApi(ctx, options.proxy, async (api) => {
    const res = await api.raw(`/v1/audit/export?${checkedQuery(AuditExportParams, { after: String(after), follow: options.follow ? 'true' : undefined })}`, { timeoutMs: options.follow ? null : 600_000 });
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) ctx.stdout(safeJsonText(line) + '\n');
    }
    if (pending.trim()) ctx.stdout(safeJsonText(pending) + '\n');
  });
}
