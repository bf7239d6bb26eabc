// What every session MFA step checks of its caller before any second factor
// is looked at, and how a refusal is audited (session_mfa.verify, failed):
// the TOTP check, and the browser check's start and redeem alike.
import { certificateRoleNames, type Identity, lockMessage, ZtshError } from '@ztsh/protocol';
import type { LoginDeps } from '../login/login-deps.ts';

export interface SessionMfaCaller {
  /** The Identity of the certificate the caller showed, already checked against the user CA and the clock. */
  identity: Identity;
  notAfter: Date;
  /** That certificate's serial (hex, as node:crypto writes it). */
  serial: string;
  /** That certificate's key (DER SPKI): the new certificate is for it. */
  publicKey: Buffer;
  clientIp: string;
}

export type Refuse = (error: ZtshError, reason: string, fields?: Record<string, unknown>) => Promise<ZtshError>;

/** Sorted, without repeats: the form a check is bound to and compared in. */
export function boundClusters(clusters: string[]): string[] {
  return [...new Set(clusters)].sort();
}

/** The same serial however each side writes it (case, leading zeros). */
export function sameSerial(a: string, b: string): boolean {
  const bare = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
  return bare(a) === bare(b);
}

export function auditedRefusal(deps: LoginDeps, caller: SessionMfaCaller, clusters: string[], base: Record<string, unknown>): Refuse {
  const { identity } = caller;
  return async (error, reason, fields = {}) => {
    await deps.audit.emit('session_mfa.verify', false, {
      user: identity.user,
      loginId: identity.loginId,
      clientIp: caller.clientIp,
      message: error.message,
      fields: { clusters, ...base, reason, ...fields },
    });
    return error;
  };
}

/**
 * Anchored to the certificate of a login (or one an access request
 * re-issued), never to another check's: each check then starts from what
 * the IdP and login's second factor vouched for, and its end is that
 * certificate's. A locked user or role gets nothing. Both are refused before
 * any code is looked at, so the code stays unused.
 */
export async function checkSessionMfaCaller(deps: LoginDeps, caller: SessionMfaCaller, refused: Refuse): Promise<void> {
  const { identity } = caller;
  if (identity.sessionMfa) {
    throw await refused(
      new ZtshError('access_denied', 'a session MFA certificate cannot be used for another session MFA check', {
        hint: 'ztsh kube mfa sends the certificate of ztsh login; run ztsh login if that has expired',
      }),
      'session_mfa_certificate',
    );
  }
  const lock = deps.locks.lockFor(identity.user, certificateRoleNames(identity), identity.accessRequests?.map((r) => r.id));
  if (lock) throw await refused(new ZtshError('locked', lockMessage(lock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' }), 'locked', { lockId: lock.id });
}
