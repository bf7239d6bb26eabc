// `ztsh login --request-id`: the caller's certificate again, for the same
// public key, now also carrying approved access requests. The login's own
// roles stay `roles`; each request is an `accessRequests` entry with the
// roles it grants (and, for single pods, the pods they are limited to). The
// Kubernetes users and groups those roles allow join the certificate's, as
// the ceiling the proxy impersonates within. notAfter is the earliest of the
// caller's certificate and each request's end: elevation never outlives the
// login nor the approval.
//
// Refused: a session-MFA certificate (use the login certificate: the MFA
// check then binds the elevated one), a locked user or role (own or
// requested), a request that is not the caller's, not approved, or over.
// A certificate already elevated may be re-issued: the requests named now
// replace the ones it carried, and its (already capped) notAfter caps again.
import { kubePrincipals, type Certificates, type Identity, ZtshError } from '@ztsh/protocol';
import { issueCertificate } from '../ca/issuer.ts';
import { lockMessage } from '../locks/locks.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { AccessRequestRecord } from '../storage/storage.ts';
import { rolesOf, type AccessRequests } from './service.ts';

export interface ReissueCaller {
  identity: Identity;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the caller's certificate. */
  publicKey: Buffer;
  clientIp: string;
}

export type UseRefusal = 'session_mfa_certificate' | 'locked' | 'not_found' | 'not_approved' | 'role_gone';

const uniq = <T>(values: T[]): T[] => [...new Set(values)];

export async function reissueWithRequests(deps: LoginDeps, requests: AccessRequests, who: ReissueCaller, ids: string[]): Promise<Certificates> {
  const { identity } = who;
  const refuse = async (reason: UseRefusal, error: ZtshError, accessRequest?: string): Promise<never> => {
    await deps.audit.emit('access_request.use', false, {
      user: identity.user,
      loginId: identity.loginId,
      clientIp: who.clientIp,
      message: error.message,
      fields: { reason, ...(accessRequest ? { accessRequest } : {}), accessRequests: ids.map((id) => id.slice(0, 64)) },
    });
    throw error;
  };

  if (identity.sessionMfa) {
    return refuse('session_mfa_certificate', new ZtshError('access_denied', 'a session MFA certificate cannot be re-issued', { hint: 'use your login certificate (ztsh login --request-id ID)' }));
  }
  const ownLock = deps.locks.lockFor(identity.user, identity.roles);
  if (ownLock) return refuse('locked', new ZtshError('locked', lockMessage(ownLock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' }));

  const approved: AccessRequestRecord[] = [];
  for (const id of uniq(ids)) {
    const r = await requests.load(id);
    // Someone else's request answers as an unknown one: ids are not for trying.
    if (!r || r.user !== identity.user) {
      return refuse('not_found', new ZtshError('not_found', `no access request ${id.slice(0, 64)} of yours`, { hint: 'ztsh request ls lists your requests' }), id.slice(0, 64));
    }
    if (r.state !== 'approved') {
      return refuse('not_approved', new ZtshError('access_denied', `access request ${r.id} is ${r.state}, not approved`, { hint: r.state === 'pending' ? 'wait for a reviewer to approve it' : 'create a new request: ztsh request create' }), r.id);
    }
    const missing = r.roles.find((name) => !deps.roles.has(name));
    if (missing) return refuse('role_gone', new ZtshError('access_denied', `role "${missing}" of request ${r.id} is no longer defined`, { hint: 'create a new request' }), r.id);
    approved.push(r);
  }
  const elevatedNames = uniq(approved.flatMap((r) => r.roles));
  const lock = deps.locks.lockFor(identity.user, uniq([...identity.roles, ...elevatedNames]));
  if (lock) return refuse('locked', new ZtshError('locked', lockMessage(lock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' }));

  const now = deps.clock.now();
  const notAfter = new Date(Math.min(who.notAfter.getTime(), ...approved.map((r) => r.accessUntil!)));
  const own = rolesOf(deps, identity.roles);
  const elevated = rolesOf(deps, elevatedNames);
  const added = kubePrincipals([...own, ...elevated], identity.traits, elevated);
  const { sessionMfa: _sessionMfa, accessRequests: _previous, ...base } = identity;
  const reissued: Identity = {
    ...base,
    kubernetesUsers: uniq([...identity.kubernetesUsers, ...added.users]).sort(),
    kubernetesGroups: uniq([...identity.kubernetesGroups, ...added.groups]).sort(),
    accessRequests: approved.map((r) => ({ id: r.id, roles: r.roles, ...(r.resources.length > 0 ? { resources: r.resources } : {}) })),
  };
  const issued = issueCertificate({ ca: deps.userCa, publicKey: who.publicKey, identity: reissued, notBefore: new Date(now.getTime() - 60_000), notAfter });
  for (const r of approved) {
    await deps.audit.emit('access_request.use', true, {
      user: identity.user,
      loginId: identity.loginId,
      clientIp: who.clientIp,
      message: `${identity.user} uses access request ${r.id} (${r.roles.join(', ')}) until ${notAfter.toISOString()}`,
      fields: { accessRequest: r.id, roles: r.roles, serial: issued.serial, notAfter: notAfter.toISOString() },
    });
  }
  await deps.audit.emit('cert.issued', true, {
    user: identity.user,
    loginId: identity.loginId,
    clientIp: who.clientIp,
    fields: {
      serial: issued.serial,
      notAfter: notAfter.toISOString(),
      roles: identity.roles,
      accessRequests: approved.map((r) => r.id),
      kubernetesGroups: reissued.kubernetesGroups,
      reissued: true,
    },
  });
  return {
    certificate: issued.pem,
    userCaCertificates: deps.userCa.trustBundle,
    hostCaCertificates: deps.hostCa.trustBundle,
    user: identity.user,
    roles: identity.roles,
    kubernetesGroups: reissued.kubernetesGroups,
    kubernetesUsers: reissued.kubernetesUsers,
    mfaVerified: identity.mfaVerified,
    ...(identity.mfaMethod ? { mfaMethod: identity.mfaMethod } : {}),
    validUntil: notAfter.toISOString(),
  };
}
