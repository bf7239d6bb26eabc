// The auditors' web page keeps its sign-in in a cookie: HttpOnly (no script
// reads it), Secure with the __Host- prefix (HTTPS, this host only, path /),
// SameSite=Strict (no other site's page sends it). On top of that, a request
// that says it comes from another site or a sibling subdomain is never acted
// on with the cookie, and the one state-changing route (sign-out) needs an
// Origin or Sec-Fetch-Site that names this page.
import type { Context, Next } from 'koa';
import { ZtshError } from '@ztsh/protocol';
import type { LoginDeps } from '../login/login-deps.ts';
import { webSessionFor, type OpenedWebSession } from '../login/web-session.ts';

export const WEB_COOKIE = '__Host-ztsh_web';

/** What the middleware leaves in ctx.state.webSession; caller.ts prefers it to a client certificate. */
export interface WebSessionState {
  user: string;
  roles: string[];
  expiresAt: number;
}

/** The request says it comes from another site (or a sibling subdomain, which SameSite counts as "same site"). */
export function fromElsewhere(ctx: Context): boolean {
  const site = ctx.get('Sec-Fetch-Site');
  return site === 'cross-site' || site === 'same-site';
}

export function webSessionMiddleware(deps: LoginDeps) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const token = ctx.cookies.get(WEB_COOKIE);
    if (token && !fromElsewhere(ctx)) {
      const session = await webSessionFor(deps, token);
      if (session) ctx.state.webSession = { user: session.user, roles: session.roles, expiresAt: session.expiresAt } satisfies WebSessionState;
    }
    await next();
  };
}

export function setWebSessionCookie(ctx: Context, session: OpenedWebSession): void {
  ctx.cookies.set(WEB_COOKIE, session.token, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: '/',
    expires: new Date(session.expiresAt),
    overwrite: true,
  });
}

export function clearWebSessionCookie(ctx: Context): void {
  ctx.cookies.set(WEB_COOKIE, '', { httpOnly: true, secure: true, sameSite: 'strict', path: '/', expires: new Date(0), overwrite: true });
}

/** For state-changing requests: the browser must say the request comes from this origin. */
export function requireSameOrigin(ctx: Context, deps: LoginDeps): void {
  const origin = ctx.get('Origin');
  if (ctx.get('Sec-Fetch-Site') === 'same-origin' || (origin !== '' && origin === deps.publicUrl.origin)) return;
  throw new ZtshError('access_denied', 'this request did not come from the ztsh web page', { hint: 'use the Sign out button on the page' });
}
