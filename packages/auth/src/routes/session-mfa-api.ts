// POST /v1/session-mfa: a TOTP code, shown with the certificate of ztsh login,
// for a short certificate bound to clusters that require a fresh second
// factor (session-mfa/session-mfa.ts says what it holds).
import type Router from '@koa/router';
import { peerRefusalMessage, SessionMfaRequest, SessionMfaResponse, ZtshError } from '@ztsh/protocol';
import { refuse } from '../http/caller.ts';
import { callerPublicKey } from '../http/caller-key.ts';
import { clientCertificate } from '../http/forwarded.ts';
import { parseBody, respond } from '../http/guard.ts';
import { createRouter } from '../http/router.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { verifySessionMfa } from '../session-mfa/session-mfa.ts';

export function sessionMfaRoutes(deps: LoginDeps): Router {
  const router = createRouter('/v1');
  router.post('/session-mfa', async (ctx) => {
    const peer = clientCertificate(ctx, deps.userCa.trustBundle, deps.clock.now());
    if (!peer.ok) {
      const error = new ZtshError('unauthenticated', peerRefusalMessage(peer.reason, 'a session MFA check needs the certificate of ztsh login'), { hint: 'run ztsh login' });
      const named = peer.expired;
      return refuse(ctx, deps, error, named ? { user: named.identity.user, roles: named.identity.roles, via: 'certificate', certificateExpired: { notAfter: named.notAfter } } : {}, peer.reason);
    }
    const publicKey = callerPublicKey(ctx);
    if (!publicKey) throw new ZtshError('internal', 'the checked client certificate has no readable key', { expose: false });
    const body = parseBody(ctx, SessionMfaRequest);
    const answer = await verifySessionMfa(deps, { identity: peer.identity, notAfter: peer.notAfter, publicKey, clientIp: ctx.ip }, body);
    respond(ctx, SessionMfaResponse, answer);
  });
  return router;
}
