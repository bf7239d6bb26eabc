// The end of every session MFA check, whichever second factor passed: a
// certificate for the caller's key, its login identity plus sessionMfa,
// for the roles' mfa_verification_interval and never past the certificate
// it was asked with; audited as session_mfa.verify.
import { certificateRoleNames, type Identity, sessionMfaInterval, type SessionMfaMethod, type SessionMfaResponse } from '@ztsh/protocol';
import { issueCertificate } from '../ca/issuer.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { SessionMfaCaller } from './refusals.ts';

/** What passed: the method, the device, and for a browser check its id. */
export interface SessionMfaProof {
  method: SessionMfaMethod;
  deviceId: string | undefined;
  checkId?: string | undefined;
}

export async function issueSessionMfa(deps: LoginDeps, caller: SessionMfaCaller, clusters: string[], proof: SessionMfaProof): Promise<SessionMfaResponse> {
  const { identity } = caller;
  const roleNames = certificateRoleNames(identity);
  const now = deps.clock.now().getTime();
  const intervalMs = sessionMfaInterval(roleNames.flatMap((name) => deps.roles.get(name) ?? []));
  // X.509 keeps whole seconds: round down, so the answer's validUntil is the certificate's.
  const notAfter = new Date(Math.min(Math.floor((now + intervalMs) / 1000) * 1000, caller.notAfter.getTime()));
  const bound: Identity = { ...identity, sessionMfa: { clusters, verifiedAt: now, method: proof.method } };
  const issued = issueCertificate({ ca: deps.userCa, publicKey: caller.publicKey, identity: bound, notBefore: new Date(now - 60_000), notAfter });
  await deps.audit.emit('session_mfa.verify', true, {
    user: identity.user,
    loginId: identity.loginId,
    clientIp: caller.clientIp,
    fields: {
      clusters,
      method: proof.method,
      device: proof.deviceId,
      ...(proof.checkId ? { check: proof.checkId } : {}),
      serial: issued.serial,
      notAfter: notAfter.toISOString(),
      intervalMs,
      roles: identity.roles,
      ...(identity.accessRequests ? { accessRequests: identity.accessRequests.map((r) => r.id) } : {}),
    },
  });
  return { certificate: issued.pem, clusters, validUntil: notAfter.toISOString(), issuedAt: new Date(now).toISOString() };
}
