// `ztsh login --request-id`: the caller's certificate again, for the same
// public key, now also carrying approved access requests. The login's own
// roles stay `roles`; each request is an `accessRequests` entry with the
// roles it grants (and, for single pods, the pods they are limited to). The
// Kubernetes users and groups are those of the own and requested roles
// together: the ceiling the proxy impersonates within. notAfter is the earliest of the
// caller's certificate, each request's end and the login's start plus the
// smallest max_session_ttl of the own and requested roles: elevation never
// outlives the login, the approval, nor what a login holding those roles
// would have got. A requested role's require_mfa holds as at login: a login
// without a second factor gets no certificate carrying it.
//
// The login's start is the caller's notBefore plus the issuing skew; the
// elevated certificate keeps that notBefore, so re-issuing an elevated
// certificate cannot move the start (and the max_session_ttl window) later.
// The login record itself is swept an hour after the login flow ends, so it
// cannot say when the login was.
//
// Refused: a session-MFA certificate (use the login certificate: the MFA
// check then binds the elevated one), a locked user or role (own or
// requested), a request that is not the caller's, not approved, or over, a
// role requiring MFA on a login without it, a login older than a role's
// max_session_ttl.
// A certificate already elevated may be re-issued: the requests named now
// replace the ones it carried, and its (already capped) notAfter caps again.
import { kubePrincipals, type Certificates, type Identity, ZtshError } from '@ztsh/protocol';
import { issueCertificate } from '../ca/issuer.ts';
import { formatDuration } from '../duration.ts';
import { lockMessage } from '../locks/locks.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { grantFor } from '../roles/role-set.ts';
import type { AccessRequestRecord } from '../storage/storage.ts';
import { rolesOf, type AccessRequests } from './service.ts';

export interface ReissueCaller {
  identity: Identity;
  /** The caller's certificate's notBefore: the login's start less ISSUE_SKEW_MS (kept through re-issues). */
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the caller's certificate. */
  publicKey: Buffer;
  clientIp: string;
}

export type UseRefusal = 'session_mfa_certificate' | 'locked' | 'not_found' | 'not_approved' | 'role_gone' | 'mfa_required' | 'session_ttl';

/** Certificates are issued valid from this long before the login, for clocks that lag. */
const ISSUE_SKEW_MS = 60_000;

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
  const lock = deps.locks.lockFor(identity.user, uniq([...identity.roles, ...elevatedNames]), approved.map((r) => r.id));
  if (lock) return refuse('locked', new ZtshError('locked', lockMessage(lock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' }));

  const now = deps.clock.now();
  const own = rolesOf(deps, identity.roles);
  const elevated = rolesOf(deps, elevatedNames);
  // What login would ask of these roles together (role-set.ts): a second
  // factor if one requires it, and the smallest max_session_ttl.
  const grant = grantFor([...own, ...elevated], identity.traits, { defaultTtlMs: deps.policy.defaultTtlMs, mfa: deps.policy.mfa });
  const retry = `run ztsh login again${grant.requireMfa ? ' with your second factor' : ''}, then ztsh login ${approved.map((r) => `--request-id ${r.id}`).join(' ')}`;
  if (grant.requireMfa && !identity.mfaVerified) {
    const strict = elevated.find((r) => r.spec.options.require_mfa);
    const why = strict ? `role "${strict.metadata.name}" requires a second factor` : 'this cluster requires a second factor';
    return refuse('mfa_required', new ZtshError('mfa_required', `${why} and your login had none`, { hint: retry }));
  }
  const loginStart = who.notBefore.getTime() + ISSUE_SKEW_MS;
  const sessionEnd = loginStart + grant.maxTtlMs;
  // Whole seconds, as the certificate encodes them, so validUntil says exactly when it ends.
  const notAfter = new Date(Math.floor(Math.min(who.notAfter.getTime(), sessionEnd, ...approved.map((r) => r.accessUntil!)) / 1000) * 1000);
  if (notAfter.getTime() <= now.getTime()) {
    return refuse(
      'session_ttl',
      new ZtshError('access_denied', `your login of ${new Date(loginStart).toISOString()} is older than the requested roles allow a session to last (${formatDuration(grant.maxTtlMs)})`, { hint: retry }),
    );
  }
  // Worked out again from the roles, as login does (grantFor), rather than
  // added to the caller's: a certificate elevated before carries groups of
  // requests it no longer names. Deny of every role, own and requested, wins.
  const principals = kubePrincipals([...own, ...elevated], identity.traits);
  const { sessionMfa: _sessionMfa, accessRequests: _previous, ...base } = identity;
  const reissued: Identity = {
    ...base,
    kubernetesUsers: principals.users,
    kubernetesGroups: principals.groups,
    accessRequests: approved.map((r) => ({ id: r.id, roles: r.roles, ...(r.resources.length > 0 ? { resources: r.resources } : {}) })),
  };
  // The login's notBefore, not now's: the next re-issue finds the login's start here.
  const issued = issueCertificate({ ca: deps.userCa, publicKey: who.publicKey, identity: reissued, notBefore: who.notBefore, notAfter });
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
