// Session MFA over the certificate of ztsh login (session-mfa/ says what a
// check holds): GET /v1/session-mfa lists the caller's second factors,
// POST /v1/session-mfa/browser starts a check in the browser (a security
// key), POST /v1/session-mfa takes a TOTP code or a browser check's code
// for a short certificate bound to clusters that require a fresh factor.
import type Router from '@koa/router';
import type { Context } from 'koa';
import {
  peerRefusalMessage,
  SessionMfaBrowserStart,
  SessionMfaBrowserStarted,
  SessionMfaMethods,
  SessionMfaRequest,
  SessionMfaResponse,
  ZtshError,
} from '@ztsh/protocol';
import { refuse } from '../http/caller.ts';
import { callerCertificate } from '../http/caller-key.ts';
import { clientCertificate } from '../http/forwarded.ts';
import { parseBody, respond } from '../http/guard.ts';
import { createRouter } from '../http/router.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { sessionMfaMethods, startBrowserCheck } from '../session-mfa/browser-check.ts';
import { type SessionMfaCaller, verifySessionMfa } from '../session-mfa/session-mfa.ts';

export function sessionMfaRoutes(deps: LoginDeps): Router {
  const router = createRouter('/v1');

  /** The caller's certificate, checked against the user CA and the clock; refused (and audited) otherwise. */
  const sessionMfaCaller = async (ctx: Context): Promise<SessionMfaCaller> => {
    const peer = clientCertificate(ctx, deps.userCa.trustBundle, deps.clock.now());
    if (!peer.ok) {
      const error = new ZtshError('unauthenticated', peerRefusalMessage(peer.reason, 'a session MFA check needs the certificate of ztsh login'), { hint: 'run ztsh login' });
      const named = peer.expired;
      return refuse(ctx, deps, error, named ? { user: named.identity.user, roles: named.identity.roles, via: 'certificate', certificateExpired: { notAfter: named.notAfter } } : {}, peer.reason);
    }
    const cert = callerCertificate(ctx);
    if (!cert) throw new ZtshError('internal', 'the checked client certificate has no readable key', { expose: false });
    return {
      identity: peer.identity,
      notAfter: peer.notAfter,
      serial: cert.serialNumber,
      publicKey: cert.publicKey.export({ type: 'spki', format: 'der' }),
      clientIp: ctx.ip,
    };
  };

  router.get('/session-mfa', async (ctx) => {
    const caller = await sessionMfaCaller(ctx);
    respond(ctx, SessionMfaMethods, { methods: await sessionMfaMethods(deps, caller.identity.user) });
  });

  router.post('/session-mfa/browser', async (ctx) => {
    const caller = await sessionMfaCaller(ctx);
    const body = parseBody(ctx, SessionMfaBrowserStart);
    respond(ctx, SessionMfaBrowserStarted, await startBrowserCheck(deps, caller, body), 201);
  });

  router.post('/session-mfa', async (ctx) => {
    const caller = await sessionMfaCaller(ctx);
    const body = parseBody(ctx, SessionMfaRequest);
    respond(ctx, SessionMfaResponse, await verifySessionMfa(deps, caller, body));
  });
  return router;
}
