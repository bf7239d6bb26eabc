// Turns any error into the caller's dialect: JSON `{error: {code, message,
// hint}}` for the API, an HTML page for browsers. Unknown errors become a
// bare 500; their detail goes to the log only.
import type { Context, Next } from 'koa';
import { ZtshError } from '@ztsh/protocol';
import { errorPage } from '../pages/error-page.ts';

export function toZtshError(error: unknown): ZtshError {
  if (error instanceof ZtshError) return error;
  const status = (error as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ZtshError(status === 404 ? 'not_found' : 'bad_request', (error as Error).message || 'bad request', { cause: error });
  }
  return new ZtshError('internal', 'internal error', { cause: error, expose: false });
}

export function errorMiddleware() {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ZtshError('not_found', `no route for ${ctx.method} ${ctx.path}`);
    } catch (raw) {
      const error = toZtshError(raw);
      const log = ctx.state.log ?? ctx.app.context.log;
      if (error.status >= 500) log?.error({ err: raw, path: ctx.path }, 'request failed');
      else log?.info({ code: error.code, path: ctx.path, err: error.cause ?? undefined }, 'request refused');
      ctx.status = error.status;
      if (error.code === 'mfa_locked') ctx.set('Retry-After', '60');
      if (ctx.path.startsWith('/v1/') || ctx.accepts('html', 'json') === 'json') {
        ctx.body = error.toJSON();
      } else {
        ctx.type = 'html';
        ctx.body = errorPage(error);
      }
    }
  };
}
