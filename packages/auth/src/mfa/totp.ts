// TOTP second factor (RFC 6238, 30 s steps, 6 digits) through otplib. A code
// is accepted one step either side of now, and a step, once used, never
// again: verify() records it atomically in storage.
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Clock } from '../clock.ts';

export const TOTP_PERIOD_SEC = 30;

export interface TotpCheck {
  valid: boolean;
  timeStep?: number;
}

export function newTotpSecret(): string {
  return generateSecret();
}

export async function checkTotp(secret: string, code: string, clock: Clock, afterTimeStep: number): Promise<TotpCheck> {
  if (!/^\d{6}$/.test(code)) return { valid: false };
  let result;
  try {
    result = await verify({
      secret,
      token: code,
      epoch: Math.floor(clock.now().getTime() / 1000),
      epochTolerance: TOTP_PERIOD_SEC,
      ...(afterTimeStep > 0 ? { afterTimeStep } : {}),
    });
  } catch {
    // otplib throws when the last used step lies beyond the window (the
    // server clock went back): no code in the window can be fresh then.
    return { valid: false };
  }
  if (!result.valid) return { valid: false };
  // TOTP results carry the matched step; derive it from the epoch otherwise.
  const step = (result as { timeStep?: number }).timeStep;
  return { valid: true, timeStep: step ?? Math.floor((result as { epoch: number }).epoch / TOTP_PERIOD_SEC) };
}

/** otpauth:// URI and a QR code (SVG) for authenticator apps. */
export async function totpEnrollment(secret: string, user: string, issuer: string): Promise<{ uri: string; qrSvg: string }> {
  const uri = generateURI({ issuer, label: user, secret });
  const qrSvg = await QRCode.toString(uri, { type: 'svg', margin: 1, width: 200 });
  return { uri, qrSvg };
}
