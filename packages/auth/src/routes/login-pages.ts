// Browser routes of the login: /login/:id sends the browser to the IdP,
// /oidc/callback takes it back, /login/:id/mfa/* do the second factor,
// /device/* are the device-code pages. Web logins (the auditors' page) share
// all of it and end with a session cookie instead of a code. A session MFA
// check in the browser (session-mfa/browser-check.ts) skips the IdP and
// shares the second-factor pages.
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import type { Context } from 'koa';
import { z } from 'zod';
import { ZtshError } from '@ztsh/protocol';
import { parseBody } from '../http/guard.ts';
import { deviceBrowserSecret, deviceFormError, deviceFormRefusal, deviceFormToken } from '../http/device-csrf.ts';
import { setWebSessionCookie } from '../http/web-session.ts';
import { beginIdp, idpCallback, LoginFailed } from '../login/idp.ts';
import { approve } from '../login/finish.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import {
  confirmTotpEnrollment,
  mfaView,
  totpEnrollmentFor,
  verifyTotpCode,
  webauthnOptions,
  webauthnVerify,
} from '../login/mfa-step.ts';
import { normalizeUserCode } from '../login/start.ts';
import { bindBrowserCheck } from '../session-mfa/browser-check.ts';
import { approvedPage, deviceCodePage, deviceConfirmPage, mfaPage } from '../pages/login-pages.ts';
import { continuePage, type AssetHref } from '../pages/web-pages.ts';
import type { LoginRecord } from '../storage/storage.ts';

export const BROWSER_COOKIE = 'ztsh_login';

const CodeForm = z.object({ code: z.string().max(16) });
const WebauthnBody = z.object({ mode: z.enum(['register', 'authenticate']), response: z.unknown().optional() });
const UserCodeForm = z.object({ user_code: z.string().max(32), csrf: z.string().max(128).optional() });

export function loginPageRoutes(deps: LoginDeps, webHref: AssetHref): Router {
  const router = createRouter();
  const secretOf = (ctx: Context) => ctx.cookies.get(BROWSER_COOKIE) ?? undefined;

  const sendToIdp = async (ctx: Context, loginId: string) => {
    const { url, browserSecret } = await beginIdp(deps, loginId);
    ctx.cookies.set(BROWSER_COOKIE, browserSecret, { httpOnly: true, secure: true, sameSite: 'lax', path: '/', overwrite: true });
    ctx.redirect(url.toString());
  };

  /** After the second factor (or none): code to the CLI, the auditors' page, or the approval notice. */
  const finish = async (ctx: Context, login: LoginRecord, method: 'totp' | 'webauthn' | null) => {
    const { redirect, webSession } = await approve(deps, login, method);
    if (webSession) {
      setWebSessionCookie(ctx, webSession);
      // With no second factor this answers the IdP's redirect, a navigation
      // another site began: the browser would hold the new SameSite=Strict
      // cookie back from a redirect, but not from a page of ours.
      if (method === null) {
        ctx.type = 'html';
        ctx.body = continuePage(webHref, '/web');
      } else {
        ctx.status = 303;
        ctx.redirect('/web');
      }
    } else if (redirect) ctx.redirect(redirect.toString());
    else {
      ctx.type = 'html';
      ctx.body = approvedPage(login);
    }
  };

  const renderMfa = async (ctx: Context, loginId: string, error?: string) => {
    const view = await mfaView(deps, loginId, secretOf(ctx));
    const totp = view.enroll && view.methods.includes('totp') ? await totpEnrollmentFor(deps, loginId, secretOf(ctx)) : undefined;
    ctx.type = 'html';
    ctx.body = mfaPage({ ...view, totp, error });
  };

  router.get('/login/:id', async (ctx) => {
    const login = await deps.storage.logins.get(ctx.params.id!);
    // A session MFA check skips the IdP: the certificate that started it named the user.
    if (login?.kind !== 'session_mfa') return sendToIdp(ctx, ctx.params.id!);
    const { browserSecret } = await bindBrowserCheck(deps, login, secretOf(ctx));
    if (browserSecret) ctx.cookies.set(BROWSER_COOKIE, browserSecret, { httpOnly: true, secure: true, sameSite: 'lax', path: '/', overwrite: true });
    ctx.redirect(`/login/${login.id}/mfa`);
  });

  /** Where the waiting CLI learns why its login ended: the redirect that would have carried the code. */
  const clientErrorUrl = (login: LoginRecord, error: ZtshError): URL | undefined => {
    if ((login.kind !== 'browser' && login.kind !== 'session_mfa') || !login.redirect) return undefined;
    const target = new URL(login.redirect);
    target.searchParams.set('error', error.code);
    target.searchParams.set('error_description', error.message);
    if (error.hint) target.searchParams.set('error_hint', error.hint);
    return target;
  };
  const failToClient = (ctx: Context, login: LoginRecord, error: ZtshError) => {
    const target = clientErrorUrl(login, error);
    if (!target) throw error;
    ctx.redirect(target.toString());
  };
  /** A locked second factor ends the login for good, whichever method hit the lock. */
  const endLocked = async (id: string, error: ZtshError): Promise<URL | undefined> => {
    const login = await deps.storage.logins.get(id);
    if (!login) return undefined;
    await deps.storage.logins.update(id, { status: 'failed', error: error.code });
    return clientErrorUrl(login, error);
  };

  router.get('/oidc/callback', async (ctx) => {
    try {
      // Rebuilt on the public address: the redirect_uri the IdP knows, whatever Host a load balancer sent.
      const { login, next } = await idpCallback(deps, new URL(ctx.originalUrl, deps.publicUrl), secretOf(ctx));
      if (next === 'approve') await finish(ctx, login, null);
      else ctx.redirect(`/login/${login.id}/mfa`);
    } catch (error) {
      if (error instanceof LoginFailed) failToClient(ctx, error.login, error.error);
      else throw error;
    }
  });

  router.get('/login/:id/mfa', (ctx) => renderMfa(ctx, ctx.params.id!));

  const codeStep = (verify: typeof verifyTotpCode) => async (ctx: Context) => {
    const id = (ctx.params as { id: string }).id;
    const { code } = parseBody(ctx, CodeForm);
    let login;
    try {
      login = await verify(deps, id, secretOf(ctx), code);
    } catch (error) {
      if (error instanceof ZtshError && (error.code === 'mfa_failed' || error.code === 'mfa_code_reused')) {
        await renderMfa(ctx, id, error.message);
        ctx.status = 401;
        return;
      }
      if (error instanceof ZtshError && error.code === 'mfa_locked') {
        const target = await endLocked(id, error);
        if (target) return ctx.redirect(target.toString());
      }
      throw error;
    }
    await finish(ctx, login, 'totp');
  };
  router.post('/login/:id/mfa/totp', codeStep(verifyTotpCode));
  router.post('/login/:id/mfa/totp/enroll', codeStep(confirmTotpEnrollment));

  router.post('/login/:id/mfa/webauthn/options', async (ctx) => {
    const { mode } = parseBody(ctx, WebauthnBody);
    ctx.body = await webauthnOptions(deps, ctx.params.id!, secretOf(ctx), mode);
  });

  router.post('/login/:id/mfa/webauthn/verify', async (ctx) => {
    const { mode, response } = parseBody(ctx, WebauthnBody);
    let login;
    try {
      login = await webauthnVerify(deps, ctx.params.id!, secretOf(ctx), mode, response);
    } catch (error) {
      if (error instanceof ZtshError && error.code === 'mfa_locked') {
        const target = await endLocked(ctx.params.id!, error);
        ctx.status = error.status;
        ctx.body = { ...error.toJSON(), ...(target ? { redirect: target.toString() } : {}) };
        return;
      }
      throw error;
    }
    const { redirect, webSession } = await approve(deps, login, 'webauthn');
    if (webSession) setWebSessionCookie(ctx, webSession);
    ctx.body = { redirect: webSession ? '/web' : (redirect?.toString() ?? `/login/${login.id}/approved`) };
  });

  router.get('/login/:id/approved', async (ctx) => {
    const login = await deps.storage.logins.get(ctx.params.id!);
    if (!login || login.kind !== 'device' || (login.status !== 'approved' && login.status !== 'exchanged')) {
      throw new ZtshError('not_found', 'no approved login here');
    }
    ctx.type = 'html';
    ctx.body = approvedPage(login);
  });

  const deviceLogin = async (text: string) => {
    const login = await deps.storage.logins.findByUserCode(normalizeUserCode(text));
    if (!login || login.kind !== 'device' || login.expiresAt < deps.clock.now().getTime() || (login.status !== 'started' && login.status !== 'idp')) {
      return undefined;
    }
    return login;
  };

  // Every form on these pages carries a token bound to this browser and to
  // what it does (http/device-csrf.ts); a post without it changes nothing.
  const confirmPage = (ctx: Context, login: LoginRecord) =>
    deviceConfirmPage(login, deviceFormToken(deviceBrowserSecret(ctx), `device-confirm:${login.id}`));
  const codePage = (ctx: Context, error?: string, userCode?: string) => deviceCodePage(deviceFormToken(deviceBrowserSecret(ctx), 'device-code'), error, userCode);

  router.get('/device', async (ctx) => {
    const code = typeof ctx.query.user_code === 'string' ? ctx.query.user_code : '';
    ctx.type = 'html';
    const login = code ? await deviceLogin(code) : undefined;
    ctx.body = login ? confirmPage(ctx, login) : codePage(ctx, code ? 'That code is unknown or expired.' : undefined, code);
  });

  router.post('/device', async (ctx) => {
    const { user_code, csrf } = parseBody(ctx, UserCodeForm);
    ctx.type = 'html';
    if (deviceFormRefusal(ctx, deps.publicUrl.origin, 'device-code', csrf)) {
      // Nothing from the refused post is shown back: a fresh form, no code filled in.
      ctx.status = 403;
      ctx.body = codePage(ctx, 'Type the code on this page to go on.');
      return;
    }
    const login = await deviceLogin(user_code);
    if (!login) {
      ctx.status = 404;
      ctx.body = codePage(ctx, 'That code is unknown or expired.', user_code);
      return;
    }
    ctx.body = confirmPage(ctx, login);
  });

  router.post('/device/confirm', async (ctx) => {
    const { user_code, csrf } = parseBody(ctx, UserCodeForm);
    const login = await deviceLogin(user_code);
    if (!login) throw new ZtshError('login_expired', 'that code is unknown or expired', { hint: 'run ztsh login --headless again' });
    const refusal = deviceFormRefusal(ctx, deps.publicUrl.origin, `device-confirm:${login.id}`, csrf);
    if (refusal) {
      // Someone tried to approve a login from outside its approval page: keep it.
      await deps.audit.emit('user.login', false, {
        loginId: login.id,
        clientIp: ctx.ip,
        message: 'device approval refused: it did not come from the approval page in this browser',
        fields: { kind: 'device', reason: 'cross_site', detail: refusal.split(':')[0], requestedFrom: login.clientIp },
      });
      throw deviceFormError();
    }
    await sendToIdp(ctx, login.id);
  });

  return router;
}
