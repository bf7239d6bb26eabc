// ztsh logout: forget this machine's key and certificate for a proxy.
import { resolveProxy, type CliContext } from '../context.ts';

export function logout(ctx: CliContext, options: { proxy?: string }): void {
  const proxy = resolveProxy(ctx, options.proxy);
  const removed = ctx.home.removeProfile(proxy);
  if (ctx.home.currentProxy()?.origin === proxy.origin) ctx.home.setCurrent(undefined);
  ctx.stdout(removed ? `Logged out of ${proxy.origin}; key and certificate removed.\n` : `Not logged in to ${proxy.origin}.\n`);
}
