// The second factor, after the IdP: verify a TOTP code or a WebAuthn
// assertion, or enroll the first device of a user who has none. Wrong codes
// count towards a back-off, each try counted before its code is looked at
// (mfa/attempts.ts); a TOTP step is accepted once only.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { ZtshError } from '@ztsh/protocol';
import { failureTail, reserveMfaAttempt } from '../mfa/attempts.ts';
import { lockedFor } from '../mfa/backoff.ts';
import { checkTotp, newTotpSecret, totpEnrollment } from '../mfa/totp.ts';
import * as webauthn from '../mfa/webauthn.ts';
import type { LoginRecord, MfaDevice, MfaFailures, TotpDevice, WebauthnDevice } from '../storage/storage.ts';
import { browserLogin, type LoginDeps } from './login-deps.ts';

export interface MfaView {
  login: LoginRecord;
  user: string;
  methods: ('totp' | 'webauthn')[];
  enroll: boolean;
}

async function mfaLogin(deps: LoginDeps, loginId: string, browserSecret: string | undefined): Promise<LoginRecord & { user: string }> {
  const login = await browserLogin(deps, loginId, browserSecret);
  if (login.status !== 'mfa' || !login.user) {
    throw new ZtshError('login_expired', 'this login is not waiting for a second factor', { hint: 'run ztsh login again' });
  }
  return login as LoginRecord & { user: string };
}

function noEnrollment(): ZtshError {
  return new ZtshError('access_denied', 'a session MFA check cannot enroll a second factor', { hint: 'enroll one at your next ztsh login' });
}

/** Enrollment is part of a login only: a session MFA check (a signed-in user's, maybe someone holding a stolen certificate) never adds a device. */
function refuseEnrollment(login: LoginRecord): void {
  if (login.kind === 'session_mfa') throw noEnrollment();
}

async function devicesOf(deps: LoginDeps, user: string): Promise<MfaDevice[]> {
  return (await deps.storage.mfa.list(user)).filter((d) => deps.policy.mfa_methods.includes(d.kind));
}

export async function mfaView(deps: LoginDeps, loginId: string, browserSecret: string | undefined): Promise<MfaView> {
  const login = await mfaLogin(deps, loginId, browserSecret);
  const devices = await devicesOf(deps, login.user);
  if (login.kind === 'session_mfa') {
    // A check confirms a device the user has; it never enrolls the first one.
    if (devices.length === 0) throw noEnrollment();
    return { login, user: login.user, methods: [...new Set(devices.map((d) => d.kind))], enroll: false };
  }
  const methods = devices.length > 0 ? [...new Set(devices.map((d) => d.kind))] : [...deps.policy.mfa_methods];
  return { login, user: login.user, methods, enroll: devices.length === 0 };
}

async function refuseLocked(deps: LoginDeps, login: LoginRecord & { user: string }, wait: number): Promise<ZtshError> {
  await deps.audit.emit('user.mfa', false, { user: login.user, loginId: login.id, clientIp: login.clientIp, message: 'second factor locked after repeated failures', fields: { reason: 'mfa_locked' } });
  return new ZtshError('mfa_locked', `too many wrong codes; try again in ${Math.ceil(wait / 60_000)} minute(s)`, {
    hint: 'wait, then run ztsh login again',
  });
}

/** A cheap early refusal, for steps whose failures are not counted (a security key's registration). */
async function checkNotLocked(deps: LoginDeps, login: LoginRecord & { user: string }): Promise<void> {
  const wait = lockedFor(await deps.storage.mfa.failures(login.user), deps.clock.now().getTime());
  if (wait > 0) throw await refuseLocked(deps, login, wait);
}

/**
 * Counts this try towards the back-off before its code or assertion is
 * looked at, in one atomic step: guesses sent at once (to several replicas)
 * get no more than the free tries between them. Resolves to the count.
 */
async function reserveAttempt(deps: LoginDeps, login: LoginRecord & { user: string }): Promise<MfaFailures> {
  const attempt = await reserveMfaAttempt(deps.storage, login.user, deps.clock.now().getTime());
  if (!attempt.ok) throw await refuseLocked(deps, login, attempt.waitMs);
  return attempt.counted;
}

/** A refused try, already counted by reserveAttempt: audited, and the message says what is left. */
async function failed(deps: LoginDeps, login: LoginRecord & { user: string }, counted: MfaFailures, error: ZtshError, method: string): Promise<ZtshError> {
  await deps.audit.emit('user.mfa', false, {
    user: login.user,
    loginId: login.id,
    clientIp: login.clientIp,
    message: error.message,
    fields: { method, reason: error.code, failures: counted.failures },
  });
  const tail = failureTail(counted, deps.clock.now().getTime());
  return new ZtshError(error.code, `${error.message}.${tail}`, { hint: error.hint, cause: error.cause });
}

async function succeeded(deps: LoginDeps, login: LoginRecord & { user: string }, method: 'totp' | 'webauthn', deviceId: string): Promise<void> {
  await deps.storage.mfa.setFailures(login.user, { failures: 0, lockedUntil: 0 });
  const check = login.kind === 'session_mfa';
  // The redeem's audit event names the device that answered.
  if (check && login.sessionMfa) await deps.storage.logins.update(login.id, { sessionMfa: { ...login.sessionMfa, deviceId } });
  await deps.audit.emit('user.mfa', true, { user: login.user, loginId: login.id, clientIp: login.clientIp, fields: { method, device: deviceId, ...(check ? { kind: 'session_mfa' } : {}) } });
}

export async function verifyTotpCode(deps: LoginDeps, loginId: string, browserSecret: string | undefined, code: string): Promise<LoginRecord> {
  const login = await mfaLogin(deps, loginId, browserSecret);
  const counted = await reserveAttempt(deps, login);
  const devices = (await devicesOf(deps, login.user)).filter((d): d is TotpDevice => d.kind === 'totp');
  const clean = code.replace(/\s/g, '');
  for (const device of devices) {
    const fresh = await checkTotp(device.secret, clean, deps.clock, device.lastTimeStep);
    if (fresh.valid && (await deps.storage.mfa.advanceTotpStep(device.id, fresh.timeStep!))) {
      await succeeded(deps, login, 'totp', device.id);
      return login;
    }
    if ((await checkTotp(device.secret, clean, deps.clock, 0)).valid) {
      throw await failed(deps, login, counted, new ZtshError('mfa_code_reused', 'this code was already used; wait for the next one'), 'totp');
    }
  }
  throw await failed(deps, login, counted, new ZtshError('mfa_failed', 'wrong authenticator code'), 'totp');
}

/** The TOTP secret for a user enrolling now: made once per login, shown on this page only. */
export async function totpEnrollmentFor(deps: LoginDeps, loginId: string, browserSecret: string | undefined) {
  const login = await mfaLogin(deps, loginId, browserSecret);
  refuseEnrollment(login);
  if ((await devicesOf(deps, login.user)).length > 0) throw new ZtshError('conflict', 'a second factor is already enrolled');
  let secret = login.mfaPending?.totpSecret;
  if (!secret) {
    secret = newTotpSecret();
    await deps.storage.logins.update(login.id, { mfaPending: { ...login.mfaPending, totpSecret: secret } });
  }
  return { secret, ...(await totpEnrollment(secret, login.user, `ztsh ${deps.policy.cluster_name}`)) };
}

export async function confirmTotpEnrollment(deps: LoginDeps, loginId: string, browserSecret: string | undefined, code: string): Promise<LoginRecord> {
  const login = await mfaLogin(deps, loginId, browserSecret);
  refuseEnrollment(login);
  const secret = login.mfaPending?.totpSecret;
  if (!secret || (await devicesOf(deps, login.user)).length > 0) throw new ZtshError('conflict', 'no authenticator enrollment is in progress');
  const counted = await reserveAttempt(deps, login);
  const check = await checkTotp(secret, code.replace(/\s/g, ''), deps.clock, 0);
  if (!check.valid) {
    await deps.audit.emit('user.mfa.enroll', false, { user: login.user, loginId, clientIp: login.clientIp, fields: { method: 'totp' } });
    throw await failed(deps, login, counted, new ZtshError('mfa_failed', 'wrong authenticator code', { hint: 'check the clock of the device running the authenticator app' }), 'totp');
  }
  const device: TotpDevice = {
    id: deps.ids.id(),
    user: login.user,
    kind: 'totp',
    name: 'authenticator app',
    secret,
    lastTimeStep: check.timeStep!,
    createdAt: deps.clock.now().getTime(),
  };
  await deps.storage.mfa.add(device);
  await deps.storage.logins.update(login.id, { mfaPending: null });
  await deps.audit.emit('user.mfa.enroll', true, { user: login.user, loginId, clientIp: login.clientIp, fields: { method: 'totp', device: device.id } });
  await succeeded(deps, login, 'totp', device.id);
  return login;
}

export type WebauthnMode = 'register' | 'authenticate';

export async function webauthnOptions(deps: LoginDeps, loginId: string, browserSecret: string | undefined, mode: WebauthnMode) {
  const login = await mfaLogin(deps, loginId, browserSecret);
  const all = await devicesOf(deps, login.user);
  const devices = all.filter((d): d is WebauthnDevice => d.kind === 'webauthn');
  if (!deps.policy.mfa_methods.includes('webauthn')) throw new ZtshError('bad_request', 'security keys are not enabled here');
  if (mode === 'register') refuseEnrollment(login);
  if (mode === 'register' && all.length > 0) throw new ZtshError('conflict', 'a second factor is already enrolled');
  if (mode === 'authenticate' && devices.length === 0) throw new ZtshError('bad_request', 'no security key is registered for this user');
  const options = mode === 'register' ? await webauthn.registrationOptions(deps.rp, login.user, devices) : await webauthn.authenticationOptions(deps.rp, devices);
  await deps.storage.logins.update(login.id, { mfaPending: { ...login.mfaPending, challenge: options.challenge } });
  return options;
}

export async function webauthnVerify(
  deps: LoginDeps,
  loginId: string,
  browserSecret: string | undefined,
  mode: WebauthnMode,
  response: unknown,
): Promise<LoginRecord> {
  const login = await mfaLogin(deps, loginId, browserSecret);
  if (mode === 'register') refuseEnrollment(login);
  await checkNotLocked(deps, login);
  const challenge = login.mfaPending?.challenge;
  if (!challenge) throw new ZtshError('bad_request', 'no security key challenge is pending; reload the page');
  // A challenge is good for one answer, right or wrong.
  await deps.storage.logins.update(login.id, { mfaPending: { ...login.mfaPending, challenge: undefined } });
  const all = await devicesOf(deps, login.user);
  const devices = all.filter((d): d is WebauthnDevice => d.kind === 'webauthn');
  if (mode === 'register') {
    if (all.length > 0) throw new ZtshError('conflict', 'a second factor is already enrolled');
    let registered;
    try {
      registered = await webauthn.verifyRegistration(deps.rp, response as RegistrationResponseJSON, challenge);
    } catch (error) {
      await deps.audit.emit('user.mfa.enroll', false, { user: login.user, loginId, clientIp: login.clientIp, fields: { method: 'webauthn' } });
      throw error;
    }
    if (await deps.storage.mfa.credentialRegistered(registered.credentialId)) {
      // One key, one user: a credential id seen before is refused (and not said whose).
      await deps.audit.emit('user.mfa.enroll', false, { user: login.user, loginId, clientIp: login.clientIp, fields: { method: 'webauthn', reason: 'credential_registered' } });
      throw new ZtshError('mfa_failed', 'this security key cannot be registered', { hint: 'use another security key, or ask an administrator' });
    }
    const device: WebauthnDevice = { id: deps.ids.id(), user: login.user, kind: 'webauthn', name: 'security key', ...registered, createdAt: deps.clock.now().getTime() };
    await deps.storage.mfa.add(device);
    await deps.audit.emit('user.mfa.enroll', true, { user: login.user, loginId, clientIp: login.clientIp, fields: { method: 'webauthn', device: device.id } });
    await succeeded(deps, login, 'webauthn', device.id);
    return login;
  }
  const counted = await reserveAttempt(deps, login);
  try {
    const { device, newCounter } = await webauthn.verifyAuthentication(deps.rp, response as AuthenticationResponseJSON, challenge, devices);
    await deps.storage.mfa.setWebauthnCounter(device.id, newCounter);
    await succeeded(deps, login, 'webauthn', device.id);
    return login;
  } catch (error) {
    const z = error instanceof ZtshError ? error : new ZtshError('mfa_failed', 'the security key assertion could not be verified', { cause: error });
    throw await failed(deps, login, counted, z, 'webauthn');
  }
}
