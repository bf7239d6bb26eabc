// ztsh request create | ls | show | review | drop: ask for more access for a
// while (a role, or single pods), and decide on others' requests.
//
//   alice: ztsh request create --roles prod-admin --reason "INC-42" --duration 2h
//   bob:   ztsh request review <id> --approve --reason "go ahead"
//   alice: ztsh login --request-id <id>     (a certificate that carries the role)
//
// Every value is checked with the schemas the server applies
// (@ztsh/protocol) before anything is sent: what it would refuse is a usage
// error here (exit 2). Whatever comes back is shown through terminal-safe.ts.
import {
  ACCESS_REQUEST_STATES,
  AccessRequestCreate,
  AccessRequestInfo,
  AccessRequestReviewBody,
  AccessRequestsResponse,
  formatRequestedResource,
  parseRequestedResource,
  type AccessRequestInfo as AccessRequestInfoT,
  type RequestedResource,
} from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import { withUserApi, type CliContext } from '../context.ts';
import { localTime } from '../local-time.ts';
import { formatTable } from '../table.ts';
import { safeJson, safeText } from '../terminal-safe.ts';

interface Common {
  proxy?: string;
  format?: string;
}

/** Request ids go into a URL path: refuse anything but what ids are made of, rather than trust encoding. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function requestIdOption(text: string, name = 'request id'): string {
  if (!REQUEST_ID.test(text)) throw new CliError(`${name} "${safeText(text.slice(0, 80))}" is not a request id`, 'ztsh request ls shows the ids of your requests', 2);
  return text;
}

/** "prod-admin, dev-admin" or repeated --roles: one list, no empties, no repeats. */
function splitList(values: string[] | undefined): string[] {
  return [...new Set((values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))];
}

export interface CreateOptions extends Common {
  roles?: string[];
  resource?: string[];
  reason?: string;
  duration?: string;
}

export async function requestCreate(ctx: CliContext, options: CreateOptions): Promise<void> {
  const resources: RequestedResource[] = [];
  for (const text of options.resource ?? []) {
    const parsed = parseRequestedResource(text);
    if (!parsed.ok) throw new CliError(`--resource: ${parsed.message}`, 'e.g. --resource /prod/pod/default/web-1', 2);
    resources.push(parsed.resource);
  }
  const body = AccessRequestCreate.safeParse({
    roles: splitList(options.roles),
    resources,
    reason: options.reason ?? '',
    ...(options.duration ? { duration: options.duration } : {}),
  });
  if (!body.success) {
    const issue = body.error.issues[0]!;
    const field = issue.path.length ? `--${String(issue.path[0])}` : 'request';
    throw new CliError(`${field}: ${issue.message}`, 'ztsh request create --roles prod-admin --reason "INC-42" [--duration 2h]', 2);
  }
  const created = await withUserApi(ctx, options.proxy, (api) => api.call('POST', '/v1/access-requests', AccessRequestInfo, body.data));
  if (options.format === 'json') return ctx.stdout(safeJson(created));
  const id = safeText(created.id);
  ctx.stdout(
    `Request ${id} created: ${safeText(asked(created))} for ${duration(created.durationMs)}, waiting for ${approvals(created)}.\n` +
      (created.suggestedReviewers.length ? `Suggested reviewers: ${safeText(created.suggestedReviewers.join(', '))}.\n` : '') +
      `Once approved: ztsh login --request-id ${id}\n`,
  );
}

export async function requestLs(ctx: CliContext, options: Common & { state?: string }): Promise<void> {
  if (options.state && !(ACCESS_REQUEST_STATES as readonly string[]).includes(options.state)) {
    throw new CliError(`--state "${safeText(options.state)}" is not a state`, `one of ${ACCESS_REQUEST_STATES.join(', ')}`, 2);
  }
  const query = options.state ? `?state=${options.state}` : '';
  const { requests } = await withUserApi(ctx, options.proxy, (api) => api.call('GET', `/v1/access-requests${query}`, AccessRequestsResponse));
  if (options.format === 'json') return ctx.stdout(safeJson(requests));
  if (requests.length === 0) return ctx.stdout(options.state ? `No ${options.state} requests.\n` : 'No requests of yours or for you to review.\n');
  const head = ['ID', 'USER', 'ASKED FOR', 'STATE', 'CREATED', 'UNTIL', 'REASON'];
  const rows = requests.map((r) => [r.id, r.user, asked(r), stateOf(r), localTime(r.createdAt), until(r), oneLine(r.reason)]);
  ctx.stdout(formatTable(head, rows));
}

export async function requestShow(ctx: CliContext, id: string, options: Common): Promise<void> {
  const request = await withUserApi(ctx, options.proxy, (api) => api.call('GET', `/v1/access-requests/${requestIdOption(id)}`, AccessRequestInfo));
  if (options.format === 'json') return ctx.stdout(safeJson(request));
  ctx.stdout(describe(request));
}

export interface ReviewOptions extends Common {
  approve?: boolean;
  deny?: boolean;
  reason?: string;
}

export async function requestReview(ctx: CliContext, id: string, options: ReviewOptions): Promise<void> {
  requestIdOption(id);
  if (Boolean(options.approve) === Boolean(options.deny)) throw new CliError('give exactly one of --approve and --deny', `ztsh request review ${id} --approve --reason "..."`, 2);
  const body = AccessRequestReviewBody.safeParse({ decision: options.approve ? 'approve' : 'deny', reason: options.reason ?? '' });
  if (!body.success) throw new CliError(`--reason: ${body.error.issues[0]!.message}`, `ztsh request review ${id} ${options.approve ? '--approve' : '--deny'} --reason "..."`, 2);
  const request = await withUserApi(ctx, options.proxy, (api) => api.call('POST', `/v1/access-requests/${id}/reviews`, AccessRequestInfo, body.data));
  if (options.format === 'json') return ctx.stdout(safeJson(request));
  const verb = body.data.decision === 'approve' ? 'Approved' : 'Denied';
  const now =
    request.state === 'approved'
      ? `It is approved: ${safeText(request.user)} may use it until ${safeText(localTime(request.accessUntil ?? ''))} (ztsh login --request-id ${safeText(request.id)}).`
      : request.state === 'denied'
        ? 'It is denied.'
        : `It is still ${safeText(request.state)}: ${approvals(request)}.`;
  ctx.stdout(`${verb} request ${safeText(request.id)} of ${safeText(request.user)} (${safeText(asked(request))}).\n${now}\n`);
}

export async function requestDrop(ctx: CliContext, id: string, options: Common): Promise<void> {
  const request = await withUserApi(ctx, options.proxy, (api) => api.call('DELETE', `/v1/access-requests/${requestIdOption(id)}`, AccessRequestInfo));
  if (options.format === 'json') return ctx.stdout(safeJson(request));
  // Only an approved request has an end (accessUntil): its certificates are locked out by the drop.
  const lent = request.accessUntil ? ' Certificates re-issued under it are locked out now; ztsh login gives one without it.' : '';
  ctx.stdout(`Request ${safeText(request.id)} dropped.${lent}\n`);
}

// Formatting ---------------------------------------------------------------

export function asked(r: Pick<AccessRequestInfoT, 'roles' | 'resources'>): string {
  return [...r.roles.map((role) => `role ${role}`), ...r.resources.map(formatRequestedResource)].join(', ');
}

/** 7200000 → "2h", 5400000 → "1h30m", 90000 → "1m30s". */
export function duration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, seconds] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / seconds);
    rest -= n * seconds;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.join('') || '0s';
}

function approvals(r: AccessRequestInfoT): string {
  const approved = r.reviews.filter((v) => v.decision === 'approve').length;
  return `${approved} of ${r.thresholds.approve} approval${r.thresholds.approve === 1 ? '' : 's'}`;
}

function stateOf(r: AccessRequestInfoT): string {
  return r.reviewable ? `${r.state} (you may review)` : r.state;
}

function until(r: AccessRequestInfoT): string {
  if (r.state === 'approved' && r.accessUntil) return localTime(r.accessUntil);
  if (r.state === 'pending') return `${duration(r.durationMs)} once approved`;
  return '-';
}

/** A reason may span lines; a listing shows one. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}

function describe(r: AccessRequestInfoT): string {
  const lines = [
    `> Request:     ${r.id}`,
    `  User:        ${r.user}`,
    `  Roles:       ${r.roles.join(', ') || '-'}`,
    `  Resources:   ${r.resources.map(formatRequestedResource).join(', ') || '-'}`,
    `  Reason:      ${oneLine(r.reason)}`,
    `  State:       ${stateOf(r)}`,
    `  Created:     ${localTime(r.createdAt)}`,
    `  Duration:    ${duration(r.durationMs)}`,
    r.state === 'pending' ? `  Decide by:   ${localTime(r.pendingUntil)}` : undefined,
    r.accessUntil ? `  Until:       ${localTime(r.accessUntil)}` : undefined,
    `  Approvals:   ${approvals(r)}`,
    r.suggestedReviewers.length ? `  Suggested:   ${r.suggestedReviewers.join(', ')}` : undefined,
    ...(r.reviews.length ? ['  Reviews:', ...r.reviews.map((v) => `    ${localTime(v.at)}  ${v.reviewer}  ${v.decision}  ${oneLine(v.reason)}`)] : []),
  ];
  return lines.filter((l): l is string => l !== undefined).map(safeText).join('\n') + '\n';
}
