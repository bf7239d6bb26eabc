// Locks (permission `admin`): add, list, remove.
import Router from '@koa/router';
import { LockCreateRequest, LockSchema, LocksResponse, ZtshError, type LockInfo } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';
import { requirePermission } from '../http/caller.ts';
import { parseBody, respond } from '../http/guard.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { LockRecord } from '../storage/storage.ts';

export function lockInfo(lock: LockRecord): LockInfo {
  return {
    ...lock,
    createdAt: new Date(lock.createdAt).toISOString(),
    expiresAt: lock.expiresAt === null ? null : new Date(lock.expiresAt).toISOString(),
  };
}

export function lockRoutes(deps: LoginDeps): Router {
  const router = new Router({ prefix: '/v1' });
  router.get('/locks', (ctx) => {
    requirePermission(ctx, deps, 'admin');
    respond(ctx, LocksResponse, { locks: deps.locks.list().map(lockInfo) });
  });
  router.post('/locks', (ctx) => {
    const who = requirePermission(ctx, deps, 'admin');
    const body = parseBody(ctx, LockCreateRequest);
    if (body.role && !deps.roles.has(body.role)) {
      throw new ZtshError('bad_request', `role: unknown role "${body.role}"`, { hint: `defined roles: ${[...deps.roles.keys()].join(', ')}` });
    }
    const lock = deps.locks.add({
      target: body.user ? { user: body.user } : { role: body.role! },
      ttlMs: body.ttl ? parseDuration(body.ttl) : undefined,
      message: body.message,
      createdBy: who.user,
    });
    respond(ctx, LockSchema, lockInfo(lock), 201);
  });
  router.delete('/locks/:id', (ctx) => {
    const who = requirePermission(ctx, deps, 'admin');
    if (!deps.locks.remove(ctx.params.id!, who.user)) throw new ZtshError('not_found', `no lock ${ctx.params.id}`, { hint: 'ztsh lock ls lists the locks in force' });
    ctx.status = 204;
  });
  return router;
}
