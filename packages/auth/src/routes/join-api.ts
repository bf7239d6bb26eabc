// POST /v1/join: an agent trades a join token and its public key for a host certificate.
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import { JoinRequest, JoinResponse } from '@ztsh/protocol';
import { parseBody, respond } from '../http/guard.ts';
import { joinCluster, type JoinDeps } from '../tokens/join-tokens.ts';

export function joinRoutes(deps: JoinDeps): Router {
  const router = createRouter('/v1');
  router.post('/join', async (ctx) => {
    respond(ctx, JoinResponse, await joinCluster(deps, parseBody(ctx, JoinRequest), ctx.ip));
  });
  return router;
}
