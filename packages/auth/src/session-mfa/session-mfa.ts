// A session MFA check: a second factor from a signed-in user buys a short
// certificate for the same key, bound to the clusters the client names, for
// the roles' mfa_verification_interval and never past the certificate it was
// asked with. Every outcome is a session_mfa.verify audit event.
//
//   caller's certificate ─ not a session MFA one ─ no lock ─┬─ TOTP: a device, a try counted within the back-off, a fresh step
//                                                           └─ browser: a check of this caller's, approved in its browser (browser-check.ts)
//     ─▶ issue.ts: identity + sessionMfa {clusters, verifiedAt, method}
import { type SessionMfaRequest, type SessionMfaResponse, ZtshError } from '@ztsh/protocol';
import type { z } from 'zod';
import type { LoginDeps } from '../login/login-deps.ts';
import { redeemBrowserCheck } from './browser-check.ts';
import { issueSessionMfa, type SessionMfaProof } from './issue.ts';
import { auditedRefusal, boundClusters, checkSessionMfaCaller, type Refuse, type SessionMfaCaller } from './refusals.ts';
import { checkUserTotp, reserveTotpAttempt, totpDevicesOf } from './user-totp.ts';

export type { SessionMfaCaller } from './refusals.ts';

type Request = z.output<typeof SessionMfaRequest>;

export async function verifySessionMfa(deps: LoginDeps, caller: SessionMfaCaller, request: Request): Promise<SessionMfaResponse> {
  const clusters = boundClusters(request.clusters);
  const refused = auditedRefusal(deps, caller, clusters, 'totp' in request ? { method: 'totp' } : { method: 'webauthn', via: 'browser' });
  await checkSessionMfaCaller(deps, caller, refused);
  const proof = 'totp' in request ? await checkTotpCode(deps, caller, request.totp.code, refused) : await redeemBrowserCheck(deps, caller, clusters, request.browser, refused);
  return issueSessionMfa(deps, caller, clusters, proof);
}

async function checkTotpCode(deps: LoginDeps, caller: SessionMfaCaller, code: string, refused: Refuse): Promise<SessionMfaProof> {
  const user = caller.identity.user;
  const devices = await totpDevicesOf(deps, user);
  if (devices.length === 0) {
    throw await refused(
      new ZtshError('access_denied', `${user} has no authenticator app enrolled, and this check takes its code`, {
        hint: 'use the security key instead: ztsh kube mfa opens the browser for it',
      }),
      'no_totp_device',
    );
  }
  // The try is counted before the code is looked at: guesses sent at once
  // (to one replica or several) get no more than the back-off's free tries.
  const attempt = await reserveTotpAttempt(deps, user);
  if (!attempt.ok) {
    const minutes = Math.ceil(attempt.waitMs / 60_000);
    throw await refused(new ZtshError('mfa_locked', `too many wrong codes; try again in ${minutes} minute(s)`, { hint: 'wait, then run ztsh kube mfa again' }), 'mfa_locked');
  }
  const outcome = await checkUserTotp(deps, user, devices, code, attempt);
  if (!outcome.ok) throw await refused(outcome.error, outcome.error.code, { failures: outcome.failures });
  return { method: 'totp', deviceId: outcome.deviceId };
}
