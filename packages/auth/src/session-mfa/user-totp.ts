// A TOTP code checked for a user who is already signed in (no login record in
// flight): the devices, back-off counter and replay guard are the ones login's
// second factor uses, so a stolen certificate earns no extra guesses and a
// code typed at login cannot be typed again here.
import { ZtshError } from '@ztsh/protocol';
import { failureTail, type Reservation, reserveMfaAttempt } from '../mfa/attempts.ts';
import { checkTotp } from '../mfa/totp.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { TotpDevice } from '../storage/storage.ts';

export type TotpOutcome = { ok: true; deviceId: string } | { ok: false; error: ZtshError; failures: number };

/** The user's authenticator apps, when the policy accepts them. */
export async function totpDevicesOf(deps: Pick<LoginDeps, 'storage' | 'policy'>, user: string): Promise<TotpDevice[]> {
  if (!deps.policy.mfa_methods.includes('totp')) return [];
  return (await deps.storage.mfa.list(user)).filter((d): d is TotpDevice => d.kind === 'totp');
}

/**
 * Counts this try towards the back-off before any code is looked at (one
 * atomic step); refused with the time left when the user is locked out.
 */
export async function reserveTotpAttempt(deps: Pick<LoginDeps, 'storage' | 'clock'>, user: string): Promise<Reservation> {
  return reserveMfaAttempt(deps.storage, user, deps.clock.now().getTime());
}

/**
 * Checks the code against each device, for a try already counted by
 * reserveTotpAttempt. A fresh step is recorded atomically (two requests with
 * one code: one wins); a hit clears the count, a miss or a reused code leaves
 * it counted.
 */
export async function checkUserTotp(
  deps: Pick<LoginDeps, 'storage' | 'clock'>,
  user: string,
  devices: TotpDevice[],
  code: string,
  counted: Reservation & { ok: true },
): Promise<TotpOutcome> {
  let error = new ZtshError('mfa_failed', 'wrong authenticator code');
  for (const device of devices) {
    const fresh = await checkTotp(device.secret, code, deps.clock, device.lastTimeStep);
    if (fresh.valid && (await deps.storage.mfa.advanceTotpStep(device.id, fresh.timeStep!))) {
      await deps.storage.mfa.setFailures(user, { failures: 0, lockedUntil: 0 });
      return { ok: true, deviceId: device.id };
    }
    if ((await checkTotp(device.secret, code, deps.clock, 0)).valid) error = new ZtshError('mfa_code_reused', 'this code was already used; wait for the next one');
  }
  const tail = failureTail(counted.counted, deps.clock.now().getTime());
  return { ok: false, error: new ZtshError(error.code, `${error.message}.${tail}`), failures: counted.counted.failures };
}
