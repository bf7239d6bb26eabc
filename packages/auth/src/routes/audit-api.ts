// The auditors' API (permission `audit`): search events, verify the chain,
// export them as JSON lines (live with follow=true), list and fetch
// recordings. Locks (permission `admin`) are in locks-api.ts.
import Router from '@koa/router';
import type { Context } from 'koa';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AuditSearchResponse, AuditVerifyResponse, RecordingResponse, RecordingsResponse, ZtshError, type AuditEvent, type SessionInfo } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';
import { requirePermission } from '../http/caller.ts';
import { respond } from '../http/guard.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { AuditQuery, SessionKind, SessionRecord } from '../storage/storage.ts';

export interface AuditApiOptions {
  recordingsDir: string;
}

/** "2026-11-23T10:00:00Z", "2026-11-23", or a span back from now: "30m", "24h", "7d". */
export function parseTimeBound(value: string, now: Date, name: string): Date {
  if (/^(\d+[smhd])+$/.test(value)) return new Date(now.getTime() - parseDuration(value));
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ZtshError('bad_request', `${name}: "${value}" is not a time`, { hint: 'use an ISO 8601 time (2026-11-23T10:00:00Z), a date, or a span back from now like 24h or 7d' });
  }
  return date;
}

function param(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

function limitOf(ctx: Context): number {
  const raw = param(ctx, 'limit');
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ZtshError('bad_request', `limit: "${raw}" must be a whole number from 1 to 1000`);
  return n;
}

export function sessionInfo(s: SessionRecord): SessionInfo {
  const { recordingPath, startedAt, endedAt, ...rest } = s;
  return { ...rest, startedAt: new Date(startedAt).toISOString(), endedAt: endedAt === null ? null : new Date(endedAt).toISOString(), recorded: recordingPath !== null };
}

function auditQuery(ctx: Context, deps: LoginDeps): AuditQuery {
  const now = deps.clock.now();
  const since = param(ctx, 'since');
  const until = param(ctx, 'until');
  const outcome = param(ctx, 'outcome');
  if (outcome && outcome !== 'success' && outcome !== 'failure') throw new ZtshError('bad_request', `outcome: "${outcome}" must be success or failure`);
  const before = param(ctx, 'before');
  let cursor: AuditQuery['before'];
  if (before) {
    const m = /^(.+)_(\d+)$/.exec(before);
    if (!m) throw new ZtshError('bad_request', 'before: not a page cursor from an earlier answer');
    cursor = { time: m[1]!, seq: Number(m[2]) };
  }
  return {
    user: param(ctx, 'user'),
    cluster: param(ctx, 'cluster'),
    type: param(ctx, 'type'),
    success: outcome ? outcome === 'success' : undefined,
    sessionId: param(ctx, 'session'),
    since: since ? parseTimeBound(since, now, 'since').toISOString() : undefined,
    until: until ? parseTimeBound(until, now, 'until').toISOString() : undefined,
    text: param(ctx, 'q'),
    limit: limitOf(ctx),
    before: cursor,
  };
}

export function auditApiRoutes(deps: LoginDeps, options: AuditApiOptions): Router {
  const router = new Router({ prefix: '/v1' });

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
    requirePermission(ctx, deps, 'audit');
    const after = Number(param(ctx, 'after') ?? 0);
    if (!Number.isInteger(after) || after < 0) throw new ZtshError('bad_request', 'after: must be an event seq (0 for the beginning)');
    const follow = param(ctx, 'follow') === 'true';
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
    ctx.req.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
      out.end();
    });
  });

  router.get('/recordings', (ctx) => {
    requirePermission(ctx, deps, 'audit');
    const now = deps.clock.now();
    const since = param(ctx, 'since');
    const until = param(ctx, 'until');
    const kind = param(ctx, 'kind');
    if (kind && !['exec', 'attach', 'cp', 'portforward'].includes(kind)) throw new ZtshError('bad_request', `kind: "${kind}" must be exec, attach, cp or portforward`);
    const before = param(ctx, 'before');
    let cursor: { startedAt: number; id: string } | undefined;
    if (before) {
      const m = /^(\d+)_(.+)$/.exec(before);
      if (!m) throw new ZtshError('bad_request', 'before: not a page cursor from an earlier answer');
      cursor = { startedAt: Number(m[1]), id: m[2]! };
    }
    const limit = limitOf(ctx);
    const sessions = deps.storage.sessions.search({
      user: param(ctx, 'user'),
      cluster: param(ctx, 'cluster'),
      kind: kind as SessionKind | undefined,
      since: since ? parseTimeBound(since, now, 'since').getTime() : undefined,
      until: until ? parseTimeBound(until, now, 'until').getTime() : undefined,
      text: param(ctx, 'q'),
      limit,
      before: cursor,
    });
    const last = sessions[sessions.length - 1];
    respond(ctx, RecordingsResponse, { sessions: sessions.map(sessionInfo), ...(last && sessions.length === limit ? { next: `${last.startedAt}_${last.id}` } : {}) });
  });

  const sessionOr404 = (id: string) => {
    const session = deps.storage.sessions.get(id);
    if (!session) throw new ZtshError('not_found', `no session ${id}`, { hint: 'ztsh recordings ls lists sessions' });
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
