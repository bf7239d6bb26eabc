// The end of a login: approval hands the browser a one-time code (or marks
// a device login approved); the client trades that code, with the verifier
// only it knows, for a certificate issued to its own public key. A web login
// ends in a session of the auditors' page instead (web-session.ts).
import type { Certificates, Identity } from '@ztsh/protocol';
import { isErrorCode, ZtshError } from '@ztsh/protocol';
import { checkPublicKey, issueCertificate } from '../ca/issuer.ts';
import { lockMessage } from '../locks/locks.ts';
import type { LoginRecord } from '../storage/storage.ts';
import { CODE_TTL_MS, DEVICE_POLL_INTERVAL_SEC, sameHash, sha256, type LoginDeps } from './login-deps.ts';
import { openWebSession, refuseLockedWebLogin, type OpenedWebSession } from './web-session.ts';

export interface Approval {
  /** Browser logins: where to send the browser (the client's localhost callback). */
  redirect?: URL;
  /** Web logins: the session to set as the browser's cookie. */
  webSession?: OpenedWebSession;
}

export async function approve(deps: LoginDeps, login: LoginRecord, mfaMethod: 'totp' | 'webauthn' | null): Promise<Approval> {
  if (login.kind === 'web') await refuseLockedWebLogin(deps, login);
  const check = login.kind === 'session_mfa';
  if (check && !mfaMethod) throw new ZtshError('internal', 'a session MFA check cannot be approved without a second factor');
  const now = deps.clock.now().getTime();
  // A session MFA check ends like a browser login: a code for the client's redirect.
  const code = login.kind === 'browser' || check ? deps.ids.id(32) : null;
  const moved = await deps.storage.logins.transition(login.id, 'mfa', {
    status: 'approved',
    mfaMethod,
    codeHash: code ? sha256(code) : null,
    codeExpiresAt: code ? now + CODE_TTL_MS : null,
    mfaPending: null,
  });
  if (!moved) throw new ZtshError('login_expired', 'this login was already completed', { hint: 'run ztsh login again' });
  // A check signs no one in: its second factor was audited as a user.mfa
  // step of the check, and its outcome is session_mfa.verify at the redeem.
  if (!check) await deps.audit.emit('user.login', true, {
    user: login.user,
    loginId: login.id,
    clientIp: login.clientIp,
    fields: {
      connector: login.connector,
      kind: login.kind,
      mfa: mfaMethod ?? 'none',
      roles: login.grant?.roles ?? [],
      client: login.client ?? undefined,
    },
  });
  if (login.kind === 'web') return { webSession: await openWebSession(deps, login) };
  if (!code) return {};
  const redirect = new URL(login.redirect!);
  redirect.searchParams.set('code', code);
  return { redirect };
}

async function checkVerifier(deps: LoginDeps, login: LoginRecord, verifier: string): Promise<void> {
  if (!sameHash(sha256(verifier), login.verifierHash)) {
    // Whoever holds the code without the verifier is not the client that
    // started the login: burn the login so the code cannot be retried.
    await deps.storage.logins.update(login.id, { status: 'failed', error: 'verifier_mismatch', codeHash: null });
    await deps.audit.emit('cert.issued', false, { user: login.user, loginId: login.id, message: 'verifier mismatch', fields: { reason: 'verifier_mismatch' } });
    throw new ZtshError('verifier_mismatch', 'the login code was presented with the wrong verifier', { hint: 'run ztsh login again' });
  }
}

export async function exchangeCode(deps: LoginDeps, code: string, verifier: string, clientIp: string): Promise<Certificates> {
  const login = await deps.storage.logins.findByCodeHash(sha256(code));
  if (login?.kind === 'session_mfa') {
    // A session MFA check's code shown here was taken from its redirect by
    // someone trying for a login certificate with it: end the check.
    await deps.storage.logins.transition(login.id, 'approved', { status: 'failed', error: 'code_invalid', codeHash: null });
  }
  if (!login || login.kind !== 'browser' || login.status !== 'approved') {
    await deps.audit.emit('cert.issued', false, { clientIp, message: 'unknown or used login code', fields: { reason: 'code_invalid' } });
    throw new ZtshError('code_invalid', 'the login code is invalid or was already used', { hint: 'run ztsh login again' });
  }
  if ((login.codeExpiresAt ?? 0) < deps.clock.now().getTime()) {
    await deps.storage.logins.update(login.id, { status: 'failed', error: 'login_expired', codeHash: null });
    await deps.audit.emit('cert.issued', false, { user: login.user, loginId: login.id, clientIp, message: 'login code expired', fields: { reason: 'login_expired' } });
    throw new ZtshError('login_expired', 'the login code expired before it was used', { hint: 'run ztsh login again' });
  }
  await checkVerifier(deps, login, verifier);
  return issueFor(deps, login, clientIp);
}

export async function pollDevice(deps: LoginDeps, deviceCode: string, verifier: string, clientIp: string): Promise<Certificates> {
  const login = await deps.storage.logins.findByDeviceCodeHash(sha256(deviceCode));
  if (!login || login.kind !== 'device') throw new ZtshError('code_invalid', 'unknown device code', { hint: 'run ztsh login --headless again' });
  const now = deps.clock.now().getTime();
  if (login.expiresAt < now) throw new ZtshError('login_expired', 'the device login expired before it was approved', { hint: 'run ztsh login --headless again' });
  await checkVerifier(deps, login, verifier);
  if (login.status === 'exchanged') {
    throw new ZtshError('code_invalid', 'this device login already got its certificate', { hint: 'run ztsh login --headless again' });
  }
  if (login.status === 'failed') {
    const code = isErrorCode(login.error) ? login.error : 'idp_denied';
    throw new ZtshError(code, `the login failed in the browser (${code})`, {
      hint: code === 'no_roles' ? 'ask an administrator to map one of your groups to a ztsh role' : 'run ztsh login --headless again',
    });
  }
  if (login.status !== 'approved') {
    const tooSoon = login.lastPollAt !== null && now - login.lastPollAt < DEVICE_POLL_INTERVAL_SEC * 1000 - 250;
    await deps.storage.logins.update(login.id, { lastPollAt: now });
    throw new ZtshError(tooSoon ? 'slow_down' : 'authorization_pending', tooSoon ? 'polling too fast' : 'waiting for approval in the browser');
  }
  return issueFor(deps, login, clientIp);
}

async function issueFor(deps: LoginDeps, login: LoginRecord, clientIp: string): Promise<Certificates> {
  const grant = login.grant;
  if (!grant || !login.user) throw new ZtshError('internal', 'approved login without a grant');
  // Only logins become login certificates (a session MFA check has no grant either; this says why).
  if (login.kind !== 'browser' && login.kind !== 'device') throw new ZtshError('internal', `a ${login.kind} login cannot be exchanged for a certificate`);
  if (!(await deps.storage.logins.transition(login.id, 'approved', { status: 'exchanged', codeHash: null }))) {
    throw new ZtshError('code_invalid', 'the login code is invalid or was already used', { hint: 'run ztsh login again' });
  }
  const lock = deps.locks.lockFor(login.user, grant.roles);
  if (lock) {
    await deps.audit.emit('cert.issued', false, { user: login.user, loginId: login.id, clientIp, message: lockMessage(lock), fields: { reason: 'locked', lockId: lock.id } });
    throw new ZtshError('locked', lockMessage(lock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' });
  }
  const now = deps.clock.now();
  const ttlMs = Math.min(login.ttlMs ?? deps.policy.defaultTtlMs, grant.maxTtlMs);
  const identity: Identity = {
    v: 1,
    user: login.user,
    roles: grant.roles,
    kubernetesUsers: grant.kubernetesUsers,
    kubernetesGroups: grant.kubernetesGroups,
    traits: grant.traits,
    mfaVerified: login.mfaMethod !== null,
    ...(login.mfaMethod ? { mfaMethod: login.mfaMethod } : {}),
    loginId: login.id,
    connector: login.connector,
    issuedForIp: login.clientIp,
  };
  const issued = issueCertificate({
    ca: deps.userCa,
    publicKey: checkPublicKey(login.publicKey),
    identity,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + ttlMs),
  });
  await deps.audit.emit('cert.issued', true, {
    user: login.user,
    loginId: login.id,
    clientIp,
    fields: { serial: issued.serial, notAfter: issued.notAfter.toISOString(), ttlMs, roles: grant.roles, kubernetesGroups: grant.kubernetesGroups },
  });
  return {
    certificate: issued.pem,
    userCaCertificates: deps.userCa.trustBundle,
    hostCaCertificates: deps.hostCa.trustBundle,
    user: login.user,
    roles: grant.roles,
    kubernetesGroups: grant.kubernetesGroups,
    kubernetesUsers: grant.kubernetesUsers,
    mfaVerified: identity.mfaVerified,
    ...(login.mfaMethod ? { mfaMethod: login.mfaMethod } : {}),
    validUntil: issued.notAfter.toISOString(),
  };
}
