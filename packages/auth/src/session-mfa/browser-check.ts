// A session MFA check in the browser, for a security key: a login record of
// kind session_mfa that skips the IdP (the certificate already says who this
// is) and ends in a one-time code for the CLI's loopback redirect, never in a
// login certificate or a web session.
//
//   POST /v1/session-mfa/browser (login certificate) ─▶ record {user, key, clusters, cert serial}, status started
//   GET /login/:id ─ the first browser is bound (cookie) ─▶ /login/:id/mfa ─ security key ─▶ approved, code ─▶ redirect
//   POST /v1/session-mfa {browser: {id, code, verifier}} (the same certificate) ─ approved → exchanged, once ─▶ issue.ts
import { createPublicKey } from 'node:crypto';
import type { SessionMfaBrowserStart, SessionMfaBrowserStarted, SessionMfaMethod } from '@ztsh/protocol';
import { ZtshError } from '@ztsh/protocol';
import { liveLogin, sameHash, sha256, type LoginDeps } from '../login/login-deps.ts';
import { blankLogin } from '../login/start.ts';
import type { LoginRecord } from '../storage/storage.ts';
import type { SessionMfaProof } from './issue.ts';
import { auditedRefusal, boundClusters, checkSessionMfaCaller, type Refuse, sameSerial, type SessionMfaCaller } from './refusals.ts';
import { totpDevicesOf } from './user-totp.ts';

/** A browser check may take this long from start to redeem. */
export const BROWSER_CHECK_TTL_MS = 5 * 60_000;

/** The caller's second factors the policy accepts, TOTP first (it needs no browser). */
export async function sessionMfaMethods(deps: LoginDeps, user: string): Promise<SessionMfaMethod[]> {
  const methods: SessionMfaMethod[] = [];
  if ((await totpDevicesOf(deps, user)).length > 0) methods.push('totp');
  if ((await webauthnDeviceCount(deps, user)) > 0) methods.push('webauthn');
  return methods;
}

async function webauthnDeviceCount(deps: LoginDeps, user: string): Promise<number> {
  if (!deps.policy.mfa_methods.includes('webauthn')) return 0;
  return (await deps.storage.mfa.list(user)).filter((d) => d.kind === 'webauthn').length;
}

export async function startBrowserCheck(deps: LoginDeps, caller: SessionMfaCaller, request: SessionMfaBrowserStart): Promise<SessionMfaBrowserStarted> {
  const { identity } = caller;
  const clusters = boundClusters(request.clusters);
  const refused = auditedRefusal(deps, caller, clusters, { method: 'webauthn', via: 'browser', stage: 'start' });
  await checkSessionMfaCaller(deps, caller, refused);
  // A check never enrolls: a user without a key the policy accepts is told
  // here, before a browser opens on a page that could only offer enrollment.
  if ((await webauthnDeviceCount(deps, identity.user)) === 0) {
    throw await refused(
      new ZtshError('access_denied', `${identity.user} has no security key enrolled that this auth service accepts`, {
        hint: 'use an authenticator app code (ztsh kube mfa asks for it), or enroll a security key at your next ztsh login',
      }),
      'no_webauthn_device',
    );
  }
  const base = blankLogin(deps, 'session_mfa', identity.connector ?? deps.defaultConnector, caller.clientIp);
  const record: LoginRecord = {
    ...base,
    publicKey: createPublicKey({ key: caller.publicKey, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString(),
    redirect: request.redirect,
    verifierHash: request.verifierHash,
    client: request.client ?? null,
    user: identity.user,
    sessionMfa: { clusters, certSerial: caller.serial, certNotAfter: caller.notAfter.getTime() },
    expiresAt: base.createdAt + BROWSER_CHECK_TTL_MS,
  };
  await deps.storage.logins.insert(record);
  deps.log.info({ checkId: record.id, user: identity.user, clusters, loginId: identity.loginId }, 'session MFA browser check started');
  return {
    id: record.id,
    url: new URL(`/login/${record.id}`, deps.publicUrl).toString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
  };
}

/**
 * GET /login/:id of a check: the first browser to open it is bound to it
 * (the browser secret goes in the login cookie, its hash on the record, in
 * one started → mfa step, so two browsers at once cannot both win). The
 * bound browser may open it again; any other is refused.
 */
export async function bindBrowserCheck(deps: LoginDeps, check: LoginRecord, browserSecret: string | undefined): Promise<{ browserSecret?: string }> {
  await liveLogin(deps, check.id);
  if (check.status === 'started') {
    const secret = deps.ids.id(32);
    if (await deps.storage.logins.transition(check.id, 'started', { status: 'mfa', browserHash: sha256(secret) })) return { browserSecret: secret };
    check = (await deps.storage.logins.get(check.id)) ?? check;
  }
  if (check.status === 'mfa' && browserSecret && check.browserHash && sameHash(sha256(browserSecret), check.browserHash)) return {};
  if (check.status !== 'mfa' && check.status !== 'started') {
    throw new ZtshError('login_expired', 'this session MFA check was already completed or has ended', { hint: 'run ztsh kube mfa again' });
  }
  throw new ZtshError('state_mismatch', 'this session MFA check was opened in another browser first', {
    hint: 'open the link only in the browser that ztsh kube mfa opened; if that was not you, run ztsh kube mfa again',
  });
}

/** The redeem: every binding of the check against this caller and request, then one atomic approved → exchanged. */
export async function redeemBrowserCheck(
  deps: LoginDeps,
  caller: SessionMfaCaller,
  clusters: string[],
  browser: { id: string; code: string; verifier: string },
  refused: Refuse,
): Promise<SessionMfaProof> {
  const check = await deps.storage.logins.get(browser.id);
  const invalid = () => new ZtshError('code_invalid', 'the session MFA check code is invalid or was already used', { hint: 'run ztsh kube mfa again' });
  // One answer for every record that is not an approved check with this
  // code: a login's code or id learns nothing here.
  if (!check || check.kind !== 'session_mfa' || !check.sessionMfa || check.status !== 'approved' || !check.mfaMethod || !check.codeHash || !sameHash(sha256(browser.code), check.codeHash)) {
    throw await refused(invalid(), 'code_invalid', { check: browser.id });
  }
  const burn = async (reason: string) => {
    // Whoever holds the code but not every binding is not the client that
    // started the check: end it, so the code cannot be tried again.
    await deps.storage.logins.transition(check.id, 'approved', { status: 'failed', error: reason, codeHash: null });
  };
  const now = deps.clock.now().getTime();
  if ((check.codeExpiresAt ?? 0) < now || check.expiresAt < now) {
    await burn('login_expired');
    throw await refused(new ZtshError('login_expired', 'the session MFA check expired before its code was used', { hint: 'run ztsh kube mfa again' }), 'expired', { check: check.id });
  }
  if (!sameHash(sha256(browser.verifier), check.verifierHash)) {
    await burn('verifier_mismatch');
    throw await refused(
      new ZtshError('verifier_mismatch', 'the session MFA check code was presented with the wrong verifier', { hint: 'run ztsh kube mfa again' }),
      'verifier_mismatch',
      { check: check.id },
    );
  }
  const bound = check.sessionMfa;
  const callerKey = createPublicKey({ key: caller.publicKey, format: 'der', type: 'spki' });
  const mismatch =
    check.user !== caller.identity.user
      ? 'user'
      : !callerKey.equals(createPublicKey(check.publicKey))
        ? 'key'
        : !sameSerial(bound.certSerial, caller.serial)
          ? 'certificate'
          : bound.clusters.join(',') !== clusters.join(',')
            ? 'clusters'
            : undefined;
  if (mismatch) {
    await burn(`${mismatch}_mismatch`);
    throw await refused(
      new ZtshError('access_denied', `this session MFA check was started ${mismatch === 'clusters' ? `for other clusters (${bound.clusters.join(', ')})` : 'with another certificate'}`, {
        hint: 'redeem it with the certificate and clusters that started it; run ztsh kube mfa again',
      }),
      `${mismatch}_mismatch`,
      { check: check.id },
    );
  }
  if (!(await deps.storage.logins.transition(check.id, 'approved', { status: 'exchanged', codeHash: null }))) {
    throw await refused(invalid(), 'code_invalid', { check: check.id });
  }
  return { method: check.mfaMethod, deviceId: bound.deviceId, checkId: check.id };
}
