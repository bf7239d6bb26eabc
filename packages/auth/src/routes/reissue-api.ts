// POST /v1/certificates/reissue: the caller's certificate again, with
// approved access requests (access-requests/reissue.ts). Only a client
// certificate counts here, never a web session: the answer is a certificate
// for the key the caller's certificate holds, which a browser does not have.
import type Router from '@koa/router';
import { CertificateReissueRequest, Certificates, peerRefusalMessage, ZtshError } from '@ztsh/protocol';
import { reissueWithRequests } from '../access-requests/reissue.ts';
import type { AccessRequests } from '../access-requests/service.ts';
import { refuse } from '../http/caller.ts';
import { callerPublicKey } from '../http/caller-key.ts';
import { clientCertificate } from '../http/forwarded.ts';
import { parseBody, respond } from '../http/guard.ts';
import { createRouter } from '../http/router.ts';
import type { LoginDeps } from '../login/login-deps.ts';

export function reissueRoutes(deps: LoginDeps, requests: AccessRequests): Router {
  const router = createRouter('/v1');
  router.post('/certificates/reissue', async (ctx) => {
    const peer = clientCertificate(ctx, deps.userCa.trustBundle, deps.clock.now());
    if (!peer.ok) {
      const error = new ZtshError('unauthenticated', peerRefusalMessage(peer.reason, 'a login certificate is required: run ztsh login'), { hint: 'run ztsh login' });
      const named = peer.expired;
      return refuse(ctx, deps, error, named ? { user: named.identity.user, roles: named.identity.roles, via: 'certificate', certificateExpired: { notAfter: named.notAfter } } : {}, peer.reason);
    }
    const body = parseBody(ctx, CertificateReissueRequest);
    const publicKey = callerPublicKey(ctx);
    if (!publicKey) throw new ZtshError('unauthenticated', 'a client certificate is required', { hint: 'run ztsh login' });
    const issued = await reissueWithRequests(deps, requests, { identity: peer.identity, notBefore: peer.notBefore, notAfter: peer.notAfter, publicKey, clientIp: ctx.ip }, body.accessRequests);
    respond(ctx, Certificates, issued);
  });
  return router;
}
