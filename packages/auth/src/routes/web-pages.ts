// The auditors' web page: /web (the page, for roles with the `audit`
// permission), /web/requests (reviewers' page, web-requests.ts), /web/login (sign-in through the same connectors and second
// factor as ztsh login), /web/logout. The data comes from the JSON API
// (/v1/audit/*, /v1/recordings/*), which accepts the page's session cookie
// as it accepts a client certificate.
//
//   /web/login/:connector ─▶ /login/:id ─▶ IdP ─▶ /oidc/callback ─▶ MFA page
//       ─▶ approve() opens a web session ─▶ cookie ─▶ /web
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import type { Context, Next } from 'koa';
import { ZtshError } from '@ztsh/protocol';
import { caller, requirePermission } from '../http/caller.ts';
import { clearWebSessionCookie, fromElsewhere, requireSameOrigin, WEB_COOKIE, type WebSessionState } from '../http/web-session.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { startWebLogin } from '../login/start.ts';
import { endWebSession } from '../login/web-session.ts';
import { auditShellPage, continuePage, noAccessPage, signInPage, WEB_CSP, type AssetHref } from '../pages/web-pages.ts';
import { mayReviewRequests, rolesOf, webRequestRoutes } from './web-requests.ts';

export function webPageRoutes(deps: LoginDeps, href: AssetHref): Router {
  const router = createRouter();

  router.use(async (ctx: Context, next: Next) => {
    ctx.set('Content-Security-Policy', WEB_CSP);
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const htmlPage = (ctx: Context, body: string, status = 200) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = body;
  };

  // One spelling of the page's address; the other gets the same headers and a redirect.
  router.get('/web/', (ctx) => ctx.redirect('/web'));
  router.get('/web', async (ctx) => {
    const session = ctx.state.webSession as WebSessionState | undefined;
    if (!session) {
      // Followed from a link on another site, the browser held the cookie
      // back (SameSite=Strict); going on from a page of ours sends it.
      if (fromElsewhere(ctx)) return htmlPage(ctx, continuePage(href, '/web'));
      return ctx.redirect('/web/login');
    }
    // A reviewer who may not audit lands on the requests page instead (no refusal to audit).
    const who = await caller(ctx, deps);
    const mayReview = mayReviewRequests(rolesOf(deps, who.roles));
    if (mayReview && !who.permissions.has('audit')) return ctx.redirect('/web/requests');
    try {
      await requirePermission(ctx, deps, 'audit');
    } catch (error) {
      if (!(error instanceof ZtshError) || error.status !== 403) throw error;
      return htmlPage(ctx, noAccessPage(href, { user: session.user, roles: session.roles, message: error.message, hint: error.hint }), 403);
    }
    htmlPage(ctx, auditShellPage(href, { ...session, mayReview }));
  });
  webRequestRoutes(router, deps, href, htmlPage);

  router.get('/web/login', (ctx) => {
    if (ctx.state.webSession) return ctx.redirect('/web');
    const connectors = [...deps.connectors.values()].map((c) => ({ name: c.name, displayName: c.displayName }));
    htmlPage(ctx, signInPage(href, connectors));
  });

  // A GET, so the page needs no form (and its CSP no form target at the IdP).
  // It only starts a login: the IdP and the second factor still stand between
  // it and a session, and the browser that finishes must be this one.
  router.get('/web/login/:connector', async (ctx) => {
    const login = await startWebLogin(deps, ctx.params.connector!, ctx.ip);
    ctx.redirect(`/login/${login.id}`);
  });

  router.post('/web/logout', async (ctx) => {
    requireSameOrigin(ctx, deps);
    await endWebSession(deps, ctx.cookies.get(WEB_COOKIE));
    clearWebSessionCookie(ctx);
    ctx.status = 303;
    ctx.redirect('/web/login');
  });

  return router;
}
