// /web/requests: the reviewers' page. The same sign-in and web session as the
// auditors' page, a separate permission: roles with `review_requests` (not
// the `audit` permission). The page itself only lists and decides through
// the access requests API, which checks each review again (never one's own,
// only requests for roles the reviewer's roles name).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ZtshError, type Role } from '@ztsh/protocol';
import { reviewableRoles } from '../access-requests/reviewers.ts';
import { caller, refuse } from '../http/caller.ts';
import { fromElsewhere, type WebSessionState } from '../http/web-session.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { requestsShellPage } from '../pages/requests-page.ts';
import { continuePage, noAccessPage, type AssetHref } from '../pages/web-pages.ts';

/** Whether these roles may review anyone's requests (reviewers.ts says whose). */
export function mayReviewRequests(roles: readonly Role[]): boolean {
  return reviewableRoles(roles).size > 0;
}

export function rolesOf(deps: LoginDeps, names: readonly string[]): Role[] {
  return names.flatMap((name) => deps.roles.get(name) ?? []);
}

export function webRequestRoutes(router: Router, deps: LoginDeps, href: AssetHref, htmlPage: (ctx: Context, body: string, status?: number) => void): void {
  router.get('/web/requests', async (ctx) => {
    const session = ctx.state.webSession as WebSessionState | undefined;
    if (!session) {
      if (fromElsewhere(ctx)) return htmlPage(ctx, continuePage(href, '/web/requests'));
      return ctx.redirect('/web/login');
    }
    // caller(): a locked user is refused here (and audited) like on the API.
    const who = await caller(ctx, deps);
    if (!mayReviewRequests(rolesOf(deps, who.roles))) {
      const error = new ZtshError('access_denied', `${who.user} may not review access requests`, {
        hint: `ask for a role with review_requests (your roles: ${who.roles.join(', ') || 'none'})`,
      });
      try {
        await refuse(ctx, deps, error, who, 'denied', { permission: 'review_requests' });
      } catch (thrown) {
        if (thrown !== error) throw thrown;
        return htmlPage(ctx, noAccessPage(href, { user: who.user, roles: who.roles, message: error.message, hint: error.hint }), 403);
      }
    }
    htmlPage(ctx, requestsShellPage(href, { user: who.user, roles: who.roles, expiresAt: session.expiresAt, mayAudit: who.permissions.has('audit') }));
  });
}
