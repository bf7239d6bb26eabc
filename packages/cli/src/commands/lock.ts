// ztsh lock add | ls | rm: shut a user or a role out at once (admin).
import { LockSchema, LocksResponse, lockTargetText, type LockInfo } from '@ztsh/protocol';
import { z } from 'zod';
import { CliError } from '../cli-error.ts';
import { withUserApi, type CliContext } from '../context.ts';
import { localTime } from '../local-time.ts';
import { formatTable } from '../table.ts';
import { safeJson, safeText } from '../terminal-safe.ts';

export async function lockAdd(ctx: CliContext, options: { proxy?: string; user?: string; role?: string; accessRequest?: string; ttl?: string; message?: string; format: string }): Promise<void> {
  const given = [options.user, options.role, options.accessRequest].filter(Boolean).length;
  if (given !== 1) throw new CliError('give exactly one of --user, --role and --access-request', 'ztsh lock add --user alice --message "incident 42"', 2);
  if (options.ttl && !/^(\d+[smhd])+$/.test(options.ttl)) throw new CliError(`--ttl: "${options.ttl}" is not a duration`, 'e.g. 30m, 1h, 7d', 2);
  const target = options.user ? { user: options.user } : options.role ? { role: options.role } : { accessRequest: options.accessRequest };
  const body = { ...target, ...(options.ttl ? { ttl: options.ttl } : {}), ...(options.message ? { message: options.message } : {}) };
  const lock = await withUserApi(ctx, options.proxy, (api) => api.call('POST', '/v1/locks', LockSchema, body));
  if (options.format === 'json') return ctx.stdout(safeJson(lock));
  const id = safeText(lock.id);
  ctx.stdout(`Locked ${safeText(describe(lock))} (lock ${id}${lock.expiresAt ? `, until ${safeText(localTime(lock.expiresAt))}` : ', until removed'}).\nTheir requests are refused and their live sessions end now. Undo: ztsh lock rm ${id}\n`);
}

function describe(lock: LockInfo): string {
  return lockTargetText(lock.target);
}

export async function lockLs(ctx: CliContext, options: { proxy?: string; format: string }): Promise<void> {
  const { locks } = await withUserApi(ctx, options.proxy, (api) => api.call('GET', '/v1/locks', LocksResponse));
  if (options.format === 'json') return ctx.stdout(safeJson(locks));
  if (locks.length === 0) return ctx.stdout('No locks in force.\n');
  const rows = locks.map((l) => [l.id, describe(l), l.createdBy, localTime(l.createdAt), l.expiresAt ? localTime(l.expiresAt) : 'never', l.message ?? '-']);
  const head = ['LOCK', 'TARGET', 'BY', 'CREATED', 'EXPIRES', 'MESSAGE'];
  ctx.stdout(formatTable(head, rows));
}

export async function lockRm(ctx: CliContext, id: string, options: { proxy?: string }): Promise<void> {
  await withUserApi(ctx, options.proxy, (api) => api.call('DELETE', `/v1/locks/${encodeURIComponent(id)}`, z.undefined()));
  ctx.stdout(`Lock ${safeText(id)} removed. Users it covered need a valid certificate (ztsh login) to get back in.\n`);
}
