// The auditors' API (permission `audit`): search events, verify the chain,
// export them as JSON lines (live with follow=true), list and fetch
// recordings. Locks (permission `admin`) are in locks-api.ts.
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import type { Context } from 'koa';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AuditSearchResponse, AuditVerifyResponse, checkEventTypeFilter, parseSessionRef, RecordingResponse, RecordingsResponse, ZtshError, type AuditEvent, type SessionInfo } from '@ztsh/protocol';
import { requirePermission } from '../http/caller.ts';
import { respond } from '../http/guard.ts';
import { flag, param, searchText, seqOf, timeRange, wholeNumber } from '../http/query.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { AuditQuery, SessionKind, SessionRecord } from '../storage/storage.ts';

export interface AuditApiOptions {
  recordingsDir: string;
}

/** At most this many events or sessions in one answer. */
const MAX_LIMIT = 1000;
const limitOf = (ctx: Context) => wholeNumber(ctx, 'limit', 1, MAX_LIMIT, 100);

export function sessionInfo(s: SessionRecord): SessionInfo {
  const { recordingPath, startedAt, endedAt, ...rest } = s;
  return { ...rest, startedAt: new Date(startedAt).toISOString(), endedAt: endedAt === null ? null : new Date(endedAt).toISOString(), recorded: recordingPath !== null };
}

/**
 * A session id, or a unique prefix of one (the first 8 characters, as people
 * copy them), as the whole id; an unknown id is left for the caller to 404.
 */
export function sessionIdOf(deps: LoginDeps, text: string, name: string): string {
  const ref = parseSessionRef(text, name);
  if ('id' in ref) return ref.id;
  const { count, id } = deps.storage.sessions.withPrefix(ref.prefix);
  if (count === 0 || !id) throw new ZtshError('not_found', `no session id starts with ${ref.prefix}`, { hint: 'ztsh recordings ls lists sessions' });
  if (count > 1) throw new ZtshError('bad_request', `${ref.prefix} is the start of ${count} session ids`, { hint: 'give more characters of the id' });
  return id;
}

function auditQuery(ctx: Context, deps: LoginDeps): AuditQuery {
  const { since, until } = timeRange(ctx, deps.clock.now());
  const outcome = param(ctx, 'outcome');
  if (outcome && outcome !== 'success' && outcome !== 'failure') throw new ZtshError('bad_request', `outcome: "${outcome}" must be success or failure`);
  const type = param(ctx, 'type');
  const session = param(ctx, 'session');
  const before = param(ctx, 'before');
  let cursor: AuditQuery['before'];
  if (before) {
    const m = /^(.+)_(\d+)$/.exec(before);
    const seq = m ? seqOf(m[2]!) : undefined;
    if (!m || seq === undefined || !Number.isFinite(Date.parse(m[1]!)) || !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(m[1]!)) {
      throw new ZtshError('bad_request', 'before: not a page cursor from an earlier answer');
    }
    cursor = { time: m[1]!, seq };
  }
  return {
    user: param(ctx, 'user'),
    cluster: param(ctx, 'cluster'),
    type: type === undefined ? undefined : checkEventTypeFilter(type),
    success: outcome ? outcome === 'success' : undefined,
    sessionId: session === undefined ? undefined : sessionIdOf(deps, session, 'session'),
    since: since?.toISOString(),
    until: until?.toISOString(),
    text: searchText(ctx, 'q'),
    limit: limitOf(ctx),
    before: cursor,
  };
}

export function auditApiRoutes(deps: LoginDeps, options: AuditApiOptions): Router {
  const router = createRouter('/v1');

  router.get('/audit/events', (ctx) => {
    requirePermission(ctx, deps, 'audit');
    const query = auditQuery(ctx, deps);
    const events = deps.storage.audit.search(query);
    const last = events[events.length - 1];
    respond(ctx, AuditSearchResponse, { events, ...(last && events.length === query.limit ? { next: `${last.time}_${last.seq}` } : {}) });
  });

  router.get('/audit/verify', (ctx) => {
    requirePermission(ctx, deps, 'audit');
    deps.audit.flush();
    respond(ctx, AuditVerifyResponse, deps.storage.audit.verify());
  });

  // JSON lines, oldest first, from `after` (a seq) on; follow=true keeps the
  // answer open and adds events as they are written.
  router.get('/audit/export', (ctx) => {
    const who = requirePermission(ctx, deps, 'audit');
    const after = wholeNumber(ctx, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
    const follow = flag(ctx, 'follow');
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
      const page = deps.storage.audit.list({ afterSeq: last, limit: 1000 });
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
  });

  router.get('/recordings', (ctx) => {
    requirePermission(ctx, deps, 'audit');
    const { since, until } = timeRange(ctx, deps.clock.now());
    const kind = param(ctx, 'kind');
    if (kind && !['exec', 'attach', 'cp', 'portforward'].includes(kind)) throw new ZtshError('bad_request', `kind: "${kind}" must be exec, attach, cp or portforward`);
    const before = param(ctx, 'before');
    let cursor: { startedAt: number; id: string } | undefined;
    if (before) {
      const m = /^(\d+)_(.+)$/.exec(before);
      const startedAt = m ? seqOf(m[1]!) : undefined;
      if (!m || startedAt === undefined) throw new ZtshError('bad_request', 'before: not a page cursor from an earlier answer');
      cursor = { startedAt, id: m[2]! };
    }
    const limit = limitOf(ctx);
    const sessions = deps.storage.sessions.search({
      user: param(ctx, 'user'),
      cluster: param(ctx, 'cluster'),
      kind: kind as SessionKind | undefined,
      since: since?.getTime(),
      until: until?.getTime(),
      text: searchText(ctx, 'q'),
      limit,
      before: cursor,
    });
    const last = sessions[sessions.length - 1];
    respond(ctx, RecordingsResponse, { sessions: sessions.map(sessionInfo), ...(last && sessions.length === limit ? { next: `${last.startedAt}_${last.id}` } : {}) });
  });

  const sessionOr404 = (idOrPrefix: string) => {
    const session = deps.storage.sessions.get(sessionIdOf(deps, idOrPrefix, 'id'));
    if (!session) throw new ZtshError('not_found', `no session ${idOrPrefix}`, { hint: 'ztsh recordings ls lists sessions' });
    return session;
  };

  router.get('/recordings/:id', (ctx) => {
    requirePermission(ctx, deps, 'audit');
    const session = sessionOr404(ctx.params.id!);
    deps.audit.flush();
    const events = deps.storage.audit.search({ sessionId: session.id, limit: 1000 }).reverse();
    respond(ctx, RecordingResponse, { session: sessionInfo(session), events });
  });

  router.get('/recordings/:id/cast', (ctx) => {
    requirePermission(ctx, deps, 'audit');
    const session = sessionOr404(ctx.params.id!);
    if (!session.recordingPath) throw new ZtshError('not_found', `session ${session.id} is a ${session.kind}: its content is not recorded`);
    const path = join(options.recordingsDir, session.recordingPath);
    if (!existsSync(path)) throw new ZtshError('not_found', `the recording of session ${session.id} is missing from the recordings directory`);
    ctx.type = 'application/x-asciicast';
    ctx.set('Content-Disposition', `inline; filename="${session.id}.cast"`);
    ctx.body = createReadStream(path);
  });

  return router;
}
