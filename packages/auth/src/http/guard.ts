// zod-guarded routes: the body is parsed against the request schema and the
// response checked against the response schema before it leaves.
import type { Context } from 'koa';
import type { z } from 'zod';
import { ZtshError } from '@ztsh/protocol';
import { describeIssue } from '../config-errors.ts';

export function parseBody<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  const result = schema.safeParse((ctx.request as { body?: unknown }).body);
  if (!result.success) {
    const problems = result.error.issues.map((i) => describeIssue(i, 'body'));
    throw new ZtshError('bad_request', `invalid request: ${problems.join('; ')}`, { details: { problems } });
  }
  return result.data;
}

export function respond<T extends z.ZodType>(ctx: Context, schema: T, body: z.infer<T>, status = 200): void {
  const result = schema.safeParse(body);
  if (!result.success) throw new ZtshError('internal', 'response failed its schema', { cause: result.error, expose: false });
  ctx.status = status;
  ctx.body = result.data;
}
