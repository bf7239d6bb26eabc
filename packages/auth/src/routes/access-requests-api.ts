// /v1/access-requests: ask for more access for a while, review, drop
// (access-requests/ holds the rules). Callers sign in with their login
// certificate (the CLI) or a web session (the reviewers' page); a web
// session's state-changing calls must come from the page itself.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ACCESS_REQUEST_STATES, AccessRequestCreate, AccessRequestInfo, AccessRequestReviewBody, AccessRequestsResponse, ZtshError } from '@ztsh/protocol';
import type { AccessRequests, Actor } from '../access-requests/service.ts';
import { caller } from '../http/caller.ts';
import { parseBody, respond } from '../http/guard.ts';
import { queryOf } from '../http/query.ts';
import { createRouter } from '../http/router.ts';
import { requireSameOrigin } from '../http/web-session.ts';
import type { LoginDeps } from '../login/login-deps.ts';

const ListQuery = z.strictObject({ state: z.enum(ACCESS_REQUEST_STATES).optional() });
/** Ids are UUIDs; anything else is refused before the store is asked. */
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function accessRequestRoutes(deps: LoginDeps, requests: AccessRequests): Router {
  const router = createRouter('/v1');

  const actor = async (ctx: Context, changes: boolean): Promise<Actor> => {
    const who = await caller(ctx, deps);
    if (changes && who.via === 'web') requireSameOrigin(ctx, deps);
    return { user: who.user, roles: who.roles, clientIp: ctx.ip };
  };
  const id = (ctx: Context): string => {
    const value = ctx.params.id!;
    if (!ID.test(value)) throw new ZtshError('not_found', `no access request ${value.slice(0, 64)}`, { hint: 'request ids look like 0b6c1f5e-...; ztsh request ls lists them' });
    return value;
  };

  router.post('/access-requests', async (ctx) => {
    const who = await actor(ctx, true);
    const body = parseBody(ctx, AccessRequestCreate);
    respond(ctx, AccessRequestInfo, requests.info(await requests.create(who, body), who), 201);
  });
  router.get('/access-requests', async (ctx) => {
    const who = await actor(ctx, false);
    const { state } = queryOf(ctx, ListQuery);
    respond(ctx, AccessRequestsResponse, { requests: (await requests.list(who, state)).map((r) => requests.info(r, who)) });
  });
  router.get('/access-requests/:id', async (ctx) => {
    const who = await actor(ctx, false);
    respond(ctx, AccessRequestInfo, requests.info(await requests.get(who, id(ctx)), who));
  });
  router.post('/access-requests/:id/reviews', async (ctx) => {
    const who = await actor(ctx, true);
    const requestId = id(ctx);
    const body = parseBody(ctx, AccessRequestReviewBody);
    respond(ctx, AccessRequestInfo, requests.info(await requests.review(who, requestId, body), who));
  });
  router.delete('/access-requests/:id', async (ctx) => {
    const who = await actor(ctx, true);
    respond(ctx, AccessRequestInfo, requests.info(await requests.drop(who, id(ctx)), who));
  });
  return router;
}
