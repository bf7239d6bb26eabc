// A session MFA check: a TOTP code from a signed-in user buys a short
// certificate for the same key, bound to the clusters the client names, for
// the roles' mfa_verification_interval and never past the certificate it was
// asked with. Every outcome is a session_mfa.verify audit event.
//
//   caller's certificate ─ not a session MFA one ─ no lock ─ a TOTP device
//     ─ a try counted within the back-off ─ a fresh TOTP step ─▶ identity + sessionMfa {clusters, verifiedAt, method}
import { certificateRoleNames, type Identity, lockMessage, sessionMfaInterval, type SessionMfaRequest, type SessionMfaResponse, ZtshError } from '@ztsh/protocol';
import type { z } from 'zod';
import { issueCertificate } from '../ca/issuer.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { checkUserTotp, reserveTotpAttempt, totpDevicesOf } from './user-totp.ts';

export interface SessionMfaCaller {
  /** The Identity of the certificate the caller showed, already checked against the user CA and the clock. */
  identity: Identity;
  notAfter: Date;
  /** That certificate's key (DER SPKI): the new certificate is for it. */
  publicKey: Buffer;
  clientIp: string;
}

type Request = z.output<typeof SessionMfaRequest>;

export async function verifySessionMfa(deps: LoginDeps, caller: SessionMfaCaller, request: Request): Promise<SessionMfaResponse> {
  const { identity } = caller;
  const user = identity.user;
  const clusters = [...new Set(request.clusters)].sort();
  const roleNames = certificateRoleNames(identity);
  const event = { user, loginId: identity.loginId, clientIp: caller.clientIp };
  const refused = async (error: ZtshError, reason: string, fields: Record<string, unknown> = {}): Promise<ZtshError> => {
    await deps.audit.emit('session_mfa.verify', false, { ...event, message: error.message, fields: { clusters, method: 'totp', reason, ...fields } });
    return error;
  };

  // Anchored to the certificate of a login (or one an access request
  // re-issued), never to another check's: each check then starts from what
  // the IdP and login's second factor vouched for, and its end is that
  // certificate's. Refused before the code is looked at, so the code stays unused.
  if (identity.sessionMfa) {
    throw await refused(
      new ZtshError('access_denied', 'a session MFA certificate cannot be used for another session MFA check', {
        hint: 'ztsh kube mfa sends the certificate of ztsh login; run ztsh login if that has expired',
      }),
      'session_mfa_certificate',
    );
  }
  if (!('totp' in request)) throw await refused(new ZtshError('bad_request', 'this auth service takes session MFA codes only'), 'method_unavailable');
  const lock = deps.locks.lockFor(user, roleNames);
  if (lock) throw await refused(new ZtshError('locked', lockMessage(lock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' }), 'locked', { lockId: lock.id });
  const devices = await totpDevicesOf(deps, user);
  if (devices.length === 0) {
    throw await refused(
      new ZtshError('access_denied', `${user} has no authenticator app enrolled, and a session MFA check takes its code`, {
        hint: 'security keys are not accepted for session MFA yet; ask an administrator to enroll an authenticator app',
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
  const outcome = await checkUserTotp(deps, user, devices, request.totp.code, attempt);
  if (!outcome.ok) throw await refused(outcome.error, outcome.error.code, { failures: outcome.failures });

  const now = deps.clock.now().getTime();
  const intervalMs = sessionMfaInterval(roleNames.flatMap((name) => deps.roles.get(name) ?? []));
  // X.509 keeps whole seconds: round down, so the answer's validUntil is the certificate's.
  const notAfter = new Date(Math.min(Math.floor((now + intervalMs) / 1000) * 1000, caller.notAfter.getTime()));
  const bound: Identity = { ...identity, sessionMfa: { clusters, verifiedAt: now, method: 'totp' } };
  const issued = issueCertificate({ ca: deps.userCa, publicKey: caller.publicKey, identity: bound, notBefore: new Date(now - 60_000), notAfter });
  await deps.audit.emit('session_mfa.verify', true, {
    ...event,
    fields: {
      clusters,
      method: 'totp',
      device: outcome.deviceId,
      serial: issued.serial,
      notAfter: notAfter.toISOString(),
      intervalMs,
      roles: identity.roles,
      ...(identity.accessRequests ? { accessRequests: identity.accessRequests.map((r) => r.id) } : {}),
    },
  });
  return { certificate: issued.pem, clusters, validUntil: notAfter.toISOString(), issuedAt: new Date(now).toISOString() };
}
