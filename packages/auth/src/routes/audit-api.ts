// The auditors' API (permission `audit`): search events, verify the chain,
// export them as JSON lines (live with follow=true), list and fetch
// recordings. Locks (permission `admin`) are in locks-api.ts.
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import type { Context } from 'koa';
import { PassThrough } from 'node:stream';
import {
  auditCursor,
  checkEventTypeFilter,
  AuditExportParams,
  AuditSearchParams,
  AuditSearchResponse,
  AuditVerifyResponse,
  DEFAULT_PAGE,
  recordingFormat,
  parseSessionRef,
  RecordingResponse,
  RecordingsParams,
  RecordingsResponse,
  sessionCursor,
  ZtshError,
  type AuditEvent,
  type SessionInfo,
} from '@ztsh/protocol';
import { requirePermission } from '../http/caller.ts';
import { respond } from '../http/guard.ts';
import { queryOf, timeRange } from '../http/query.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { castBody } from '../recordings.ts';
import type { AuditQuery, SessionRecord } from '../storage/storage.ts';

export interface AuditApiOptions {
  recordingsDir: string;
}

export function sessionInfo(s: SessionRecord): SessionInfo {
  const { recordingPath, startedAt, endedAt, ...rest } = s;
  return { ...rest, startedAt: new Date(startedAt).toISOString(), endedAt: endedAt === null ? null : new Date(endedAt).toISOString(), recorded: recordingPath !== null };
}

/**
 * A session id, or a unique prefix of one (the first 8 characters, as people
 * copy them), as the whole id; an unknown id is left for the caller to 404.
 */
export async function sessionIdOf(deps: LoginDeps, text: string, name: string): Promise<string> {
  const ref = parseSessionRef(text, name);
  if ('id' in ref) return ref.id;
  const { count, id } = await deps.storage.sessions.withPrefix(ref.prefix);
  if (count === 0 || !id) throw new ZtshError('not_found', `no session id starts with ${ref.prefix}`, { hint: 'ztsh recordings ls lists sessions' });
  if (count > 1) throw new ZtshError('bad_request', `${ref.prefix} is the start of ${count} session ids`, { hint: 'give more characters of the id' });
  return id;
}

async function auditQuery(ctx: Context, deps: LoginDeps): Promise<AuditQuery> {
  const q = queryOf(ctx, AuditSearchParams);
  const { since, until } = timeRange(q.since, q.until, deps.clock.now());
  return {
    user: q.user,
    cluster: q.cluster,
    type: q.type === undefined ? undefined : checkEventTypeFilter(q.type),
    success: q.outcome ? q.outcome === 'success' : undefined,
    sessionId: q.session === undefined ? undefined : await sessionIdOf(deps, q.session, 'session'),
    accessRequest: q.request,
    since: since?.toISOString(),
    until: until?.toISOString(),
    text: q.q,
    limit: q.limit ?? DEFAULT_PAGE,
    before: q.before,
  };
}

export function auditApiRoutes(deps: LoginDeps, options: AuditApiOptions): Router {
  const router = createRouter('/v1');

  router.get('/audit/events', async (ctx) => {
    await requirePermission(ctx, deps, 'audit');
    const query = await auditQuery(ctx, deps);
    const events = await deps.storage.audit.search(query);
    const last = events[events.length - 1];
    respond(ctx, AuditSearchResponse, { events, ...(last && events.length === query.limit ? { next: auditCursor(last) } : {}) });
  });

  router.get('/audit/verify', async (ctx) => {
    await requirePermission(ctx, deps, 'audit');
    await deps.audit.flush();
    respond(ctx, AuditVerifyResponse, await deps.storage.audit.verify());
  });

  // JSON lines, oldest first, from `after` (a seq) on; follow=true keeps the
  // answer open and adds events as they are written.
  router.get('/audit/export', async (ctx) => {
    const who = await requirePermission(ctx, deps, 'audit');
    const params = queryOf(ctx, AuditExportParams);
    const after = params.after ?? 0;
    const follow = params.follow ?? false;
    const out = new PassThrough();
    ctx.status = 200;
    ctx.type = 'application/x-ndjson';
    ctx.body = out;
    let last = after;
    const send = (events: AuditEvent[]) => {
      for (const e of events) {
        if (e.seq <= last) continue;
        out.write(JSON.stringify(e) + '\n');
        last = e.seq;
      }
    };
    // Live events are held until the backlog is out, so none are lost or repeated.
    const held: AuditEvent[] = [];
    let live = false;
    const unsubscribe = follow ? deps.audit.onWritten((events) => (live ? send(events) : held.push(...events))) : () => undefined;
    for (;;) {
      const page = await deps.storage.audit.list({ afterSeq: last, limit: 1000 });
      send(page);
      if (page.length < 1000) break;
    }
    if (!follow) {
      out.end();
      return;
    }
    live = true;
    send(held);
    (ctx.res as { flushHeaders?: () => void }).flushHeaders?.();
    const keepAlive = setInterval(() => out.write('\n'), 30_000);
    // A live export is a stream in flight like an exec: a lock on its reader,
    // or the end of the certificate or web session it was opened with, ends it.
    let stopLocks = () => {};
    const expiry = setTimeout(() => stop(), Math.max(0, who.validUntil.getTime() - deps.clock.now().getTime()));
    expiry.unref();
    const stop = () => {
      clearInterval(keepAlive);
      clearTimeout(expiry);
      unsubscribe();
      stopLocks();
      out.end();
    };
    stopLocks = deps.locks.subscribe(() => {
      if (deps.locks.lockFor(who.user, who.roles)) stop();
    });
    ctx.req.on('close', stop);
    // The reader may have gone while the backlog was read.
    if (ctx.req.destroyed) stop();
  });

  router.get('/recordings', async (ctx) => {
    await requirePermission(ctx, deps, 'audit');
    const q = queryOf(ctx, RecordingsParams);
    const { since, until } = timeRange(q.since, q.until, deps.clock.now());
    const limit = q.limit ?? DEFAULT_PAGE;
    const sessions = await deps.storage.sessions.search({
      user: q.user,
      cluster: q.cluster,
      kind: q.kind,
      since: since?.getTime(),
      until: until?.getTime(),
      text: q.q,
      limit,
      before: q.before,
    });
    const last = sessions[sessions.length - 1];
    respond(ctx, RecordingsResponse, { sessions: sessions.map(sessionInfo), ...(last && sessions.length === limit ? { next: sessionCursor(last) } : {}) });
  });

  const sessionOr404 = async (idOrPrefix: string) => {
    const session = await deps.storage.sessions.get(await sessionIdOf(deps, idOrPrefix, 'id'));
    if (!session) throw new ZtshError('not_found', `no session ${idOrPrefix}`, { hint: 'ztsh recordings ls lists sessions' });
    return session;
  };

  router.get('/recordings/:id', async (ctx) => {
    await requirePermission(ctx, deps, 'audit');
    const session = await sessionOr404(ctx.params.id!);
    await deps.audit.flush();
    const events = (await deps.storage.audit.search({ sessionId: session.id, limit: 1000 })).reverse();
    respond(ctx, RecordingResponse, { session: sessionInfo(session), events });
  });

  router.get('/recordings/:id/cast', async (ctx) => {
    await requirePermission(ctx, deps, 'audit');
    const session = await sessionOr404(ctx.params.id!);
    if (!session.recordingPath) throw new ZtshError('not_found', `session ${session.id} is a ${session.kind}: its content is not recorded`);
    // Negotiated on the parsed header (q=0 refuses, identity is always fine): gzip only where it was offered.
    const acceptsGzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    const cast = await castBody(deps.storage, options.recordingsDir, session, acceptsGzip);
    if (!cast) throw new ZtshError('not_found', `the recording of session ${session.id} is missing from the recordings store`);
    ctx.type = 'application/x-asciicast';
    ctx.set('Content-Disposition', `inline; filename="${session.id}.cast"`);
    if (recordingFormat(session.recordingPath) !== 'cast') ctx.vary('Accept-Encoding');
    if (cast.gzip) ctx.set('Content-Encoding', 'gzip');
    ctx.body = cast.body;
  });

  return router;
}
