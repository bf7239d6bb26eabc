// The auth service's Koa app: error dialects, body parsing, request ids and
// logging, then the route modules.
import { randomUUID } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { LoginDeps } from '../login/login-deps.ts';
import { assetRoutes } from '../routes/assets.ts';
import { auditApiRoutes } from '../routes/audit-api.ts';
import { lockRoutes } from '../routes/locks-api.ts';
import { loginApiRoutes } from '../routes/login-api.ts';
import { sessionMfaRoutes } from '../routes/session-mfa-api.ts';
import { joinRoutes } from '../routes/join-api.ts';
import { loginPageRoutes } from '../routes/login-pages.ts';
import { webAssets } from '../routes/web-assets.ts';
import { webPageRoutes } from '../routes/web-pages.ts';
import { errorMiddleware } from './error-middleware.ts';
import { forwardedMiddleware } from './forwarded.ts';
import { internalRoutes } from '../routes/internal-api.ts';
import { webSessionMiddleware } from './web-session.ts';

export interface AuthAppOptions {
  log: Logger;
  /** Trust X-Forwarded-For / X-Forwarded-Proto from a load balancer in front (its last hop only). */
  trustProxy?: boolean;
  recordingsDir: string;
}

export function createAuthApp(deps: LoginDeps, options: AuthAppOptions): Koa {
  // Behind a load balancer, trust only the address it appended itself (the
  // last X-Forwarded-For hop): earlier entries are whatever the client sent.
  const app = new Koa({ proxy: options.trustProxy ?? false, maxIpsCount: 1 });
  app.context.log = options.log;
  // A client that goes away in the middle of a streamed answer (a watch, an
  // export) is no error of ours; anything else is logged, never printed raw.
  app.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ERR_STREAM_PREMATURE_CLOSE' || error.code === 'ECONNRESET' || error.code === 'EPIPE') return;
    options.log.error({ err: error }, 'unhandled error in the auth service');
  });
  app.use(async (ctx, next) => {
    const id = randomUUID();
    ctx.state.log = options.log.child({ reqId: id });
    ctx.set('X-Request-Id', id);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    await next();
  });
  app.use(errorMiddleware());
  app.use(forwardedMiddleware(deps));
  // Before the body parser: the internal routes read bodies of their own sizes.
  const internal = internalRoutes(deps, options);
  app.use(internal.routes()).use(internal.allowedMethods());
  app.use(bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '64kb', formLimit: '16kb' }));
  app.use(webSessionMiddleware(deps));
  const web = webAssets();
  const routers = [
    assetRoutes(),
    web.router,
    loginApiRoutes(deps),
    sessionMfaRoutes(deps),
    loginPageRoutes(deps, web.href),
    webPageRoutes(deps, web.href),
    joinRoutes(deps),
    auditApiRoutes(deps, options),
    lockRoutes(deps),
  ];
  for (const router of routers) {
    app.use(router.routes()).use(router.allowedMethods());
  }
  app.use((ctx) => {
    if (ctx.path === '/v1/ping') ctx.body = { cluster: deps.policy.cluster_name, ok: true };
  });
  return app;
}

declare module 'koa' {
  interface DefaultContext {
    log?: Logger;
  }
}
