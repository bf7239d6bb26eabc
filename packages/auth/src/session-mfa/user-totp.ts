// A TOTP code checked for a user who is already signed in (no login record in
// flight): the devices, back-off counter and replay guard are the ones login's
// second factor uses, so a stolen certificate earns no extra guesses and a
// code typed at login cannot be typed again here.
import { ZtshError } from '@ztsh/protocol';
import { afterFailure, FREE_FAILURES, lockedFor } from '../mfa/backoff.ts';
import { checkTotp } from '../mfa/totp.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import type { TotpDevice } from '../storage/storage.ts';

export type TotpOutcome = { ok: true; deviceId: string } | { ok: false; error: ZtshError; failures: number };

/** The user's authenticator apps, when the policy accepts them. */
export async function totpDevicesOf(deps: Pick<LoginDeps, 'storage' | 'policy'>, user: string): Promise<TotpDevice[]> {
  if (!deps.policy.mfa_methods.includes('totp')) return [];
  return (await deps.storage.mfa.list(user)).filter((d): d is TotpDevice => d.kind === 'totp');
}

/** How long the user must still wait after repeated wrong codes (0: not at all). */
export async function mfaWait(deps: Pick<LoginDeps, 'storage' | 'clock'>, user: string): Promise<number> {
  return lockedFor(await deps.storage.mfa.failures(user), deps.clock.now().getTime());
}

/**
 * Checks the code against each device. A fresh step is recorded atomically
 * (two requests with one code: one wins); a miss or a reused code counts
 * towards the back-off in one atomic step, and a hit clears it.
 */
export async function checkUserTotp(deps: Pick<LoginDeps, 'storage' | 'clock'>, user: string, devices: TotpDevice[], code: string): Promise<TotpOutcome> {
  let error = new ZtshError('mfa_failed', 'wrong authenticator code');
  for (const device of devices) {
    const fresh = await checkTotp(device.secret, code, deps.clock, device.lastTimeStep);
    if (fresh.valid && (await deps.storage.mfa.advanceTotpStep(device.id, fresh.timeStep!))) {
      await deps.storage.mfa.setFailures(user, { failures: 0, lockedUntil: 0 });
      return { ok: true, deviceId: device.id };
    }
    if ((await checkTotp(device.secret, code, deps.clock, 0)).valid) error = new ZtshError('mfa_code_reused', 'this code was already used; wait for the next one');
  }
  const now = deps.clock.now().getTime();
  const next = await deps.storage.mfa.recordFailure(user, (current) => afterFailure(current, now));
  const left = FREE_FAILURES - next.failures;
  const tail = next.lockedUntil > now ? ` Locked for ${Math.ceil((next.lockedUntil - now) / 60_000)} minute(s).` : left > 0 ? ` ${left} tries left.` : '';
  return { ok: false, error: new ZtshError(error.code, `${error.message}.${tail}`), failures: next.failures };
}
