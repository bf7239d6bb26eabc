// Locks (permission `admin`): add, list, remove.
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import { LockCreateRequest, LockSchema, LocksResponse, ZtshError, type LockInfo, type LockTarget } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';
import { requirePermission } from '../http/caller.ts';
import { parseBody, respond } from '../http/guard.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { checkNotSelfLock } from '../locks/self-lock.ts';
import type { LockRecord } from '../storage/storage.ts';

export function lockInfo(lock: LockRecord): LockInfo {
  return {
    ...lock,
    createdAt: new Date(lock.createdAt).toISOString(),
    expiresAt: lock.expiresAt === null ? null : new Date(lock.expiresAt).toISOString(),
  };
}

/** Longest lock with a ttl: past this, leave the ttl out (the lock then lasts until removed). */
const MAX_LOCK_TTL_MS = 3650 * 86_400_000;

function lockTtl(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (cause) {
    throw new ZtshError('bad_request', `ttl: ${(cause as Error).message}`, { cause });
  }
  if (ms < 1000 || ms > MAX_LOCK_TTL_MS) throw new ZtshError('bad_request', `ttl: "${text}" must be from 1s to 10 years`, { hint: 'leave --ttl out for a lock that lasts until removed' });
  return ms;
}

export function lockRoutes(deps: LoginDeps): Router {
  const router = createRouter('/v1');
  router.get('/locks', async (ctx) => {
    await requirePermission(ctx, deps, 'admin');
    respond(ctx, LocksResponse, { locks: deps.locks.list().map(lockInfo) });
  });
  router.post('/locks', async (ctx) => {
    const who = await requirePermission(ctx, deps, 'admin');
    const body = parseBody(ctx, LockCreateRequest);
    if (body.role && !deps.roles.has(body.role)) {
      throw new ZtshError('bad_request', `role: unknown role "${body.role}"`, { hint: `defined roles: ${[...deps.roles.keys()].join(', ')}` });
    }
    if (body.accessRequest && !(await deps.storage.accessRequests.get(body.accessRequest))) {
      throw new ZtshError('bad_request', `accessRequest: no access request ${body.accessRequest}`, { hint: 'ztsh request ls lists the requests' });
    }
    const target: LockTarget = body.user ? { user: body.user } : body.role ? { role: body.role } : { accessRequest: body.accessRequest! };
    const ttlMs = body.ttl ? lockTtl(body.ttl) : undefined;
    try {
      checkNotSelfLock(target, who, deps.roles, deps.locks.list());
    } catch (error) {
      // A refused lock is a security event too: someone tried.
      if (error instanceof ZtshError) await deps.audit.emit('lock.created', false, { user: who.user, clientIp: ctx.ip, message: error.message, fields: { target, reason: 'self_lock' } });
      throw error;
    }
    const lock = await deps.locks.add({
      target,
      ttlMs,
      message: body.message,
      createdBy: who.user,
    });
    respond(ctx, LockSchema, lockInfo(lock), 201);
  });
  router.delete('/locks/:id', async (ctx) => {
    const who = await requirePermission(ctx, deps, 'admin');
    if (!(await deps.locks.remove(ctx.params.id!, who.user))) throw new ZtshError('not_found', `no lock ${ctx.params.id}`, { hint: 'ztsh lock ls lists the locks in force' });
    ctx.status = 204;
  });
  return router;
}
