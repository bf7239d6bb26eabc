import { generateSync } from 'otplib';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { checkTotp, newTotpSecret, TOTP_PERIOD_SEC, totpEnrollment } from './totp.ts';

// 10 s into a 30 s step, so "one step either side" is not an accident of
// standing on a step boundary.
const START_SEC = 1_795_000_000 - (1_795_000_000 % TOTP_PERIOD_SEC) + 10;
const STEP = Math.floor(START_SEC / TOTP_PERIOD_SEC);
const secret = newTotpSecret();

/** The code an authenticator app shows `steps` periods away from START_SEC. */
function codeAt(steps: number, key = secret): string {
  return generateSync({ secret: key, epoch: START_SEC + steps * TOTP_PERIOD_SEC });
}

function clockAtStart(): ManualClock {
  return new ManualClock(START_SEC * 1000);
}

describe('checkTotp', () => {
  it('accepts the current code and returns its time step', async () => {
    expect(await checkTotp(secret, codeAt(0), clockAtStart(), 0)).toEqual({ valid: true, timeStep: STEP });
  });

  it('accepts the code of one step earlier, and reports that step', async () => {
    expect(await checkTotp(secret, codeAt(-1), clockAtStart(), 0)).toEqual({ valid: true, timeStep: STEP - 1 });
  });

  it('accepts the code of one step later (a phone clock slightly ahead)', async () => {
    expect(await checkTotp(secret, codeAt(1), clockAtStart(), 0)).toEqual({ valid: true, timeStep: STEP + 1 });
  });

  it.each([-3, -2, 2, 3])('rejects the code of %i steps away', async (steps) => {
    const code = codeAt(steps);
    // Guard against the (1 in 10^6) chance that the far code equals a near one.
    expect([codeAt(-1), codeAt(0), codeAt(1)]).not.toContain(code);
    expect(await checkTotp(secret, code, clockAtStart(), 0)).toEqual({ valid: false });
  });

  it('follows the clock: the code of a minute ago is stale once the clock moves on', async () => {
    const clock = clockAtStart();
    const code = codeAt(0);
    clock.advance(2 * TOTP_PERIOD_SEC * 1000);
    expect(await checkTotp(secret, code, clock, 0)).toEqual({ valid: false });
  });

  it('rejects a code made with another secret', async () => {
    const other = newTotpSecret();
    const code = codeAt(0, other);
    expect([codeAt(-1), codeAt(0), codeAt(1)]).not.toContain(code);
    expect((await checkTotp(secret, code, clockAtStart(), 0)).valid).toBe(false);
  });

  it.each(['', '12345', '1234567', 'abcdef', '12345a', '12 345'])('rejects %j, which is not six digits', async (code) => {
    expect(await checkTotp(secret, code, clockAtStart(), 0)).toEqual({ valid: false });
  });

  it('rejects the current code with spaces or a newline around it (callers strip them)', async () => {
    const code = codeAt(0);
    expect((await checkTotp(secret, ` ${code}`, clockAtStart(), 0)).valid).toBe(false);
    expect((await checkTotp(secret, `${code}\n`, clockAtStart(), 0)).valid).toBe(false);
  });

  describe('replay guard (afterTimeStep)', () => {
    it('refuses the same code again once its step is recorded as used', async () => {
      const clock = clockAtStart();
      const first = await checkTotp(secret, codeAt(0), clock, 0);
      expect(first).toEqual({ valid: true, timeStep: STEP });
      expect(await checkTotp(secret, codeAt(0), clock, first.timeStep!)).toEqual({ valid: false });
    });

    it('refuses codes of earlier steps too', async () => {
      expect(await checkTotp(secret, codeAt(-1), clockAtStart(), STEP)).toEqual({ valid: false });
      expect(await checkTotp(secret, codeAt(-1), clockAtStart(), STEP - 1)).toEqual({ valid: false });
    });

    it('still accepts a newer code', async () => {
      expect(await checkTotp(secret, codeAt(0), clockAtStart(), STEP - 1)).toEqual({ valid: true, timeStep: STEP });
      const clock = clockAtStart();
      clock.advance(TOTP_PERIOD_SEC * 1000);
      expect(await checkTotp(secret, codeAt(1), clock, STEP)).toEqual({ valid: true, timeStep: STEP + 1 });
    });

    // Regression: when the last used step lies beyond now + 1 step (the server clock
    // was stepped back after a login), otplib throws AfterTimeStepRangeExceededError
    // and checkTotp passed it on instead of answering { valid: false }; the
    // TOTP login then failed with a 500 rather than "code already used".
    it('answers invalid, without throwing, when the last used step is ahead of the clock', async () => {
      await expect(checkTotp(secret, codeAt(0), clockAtStart(), STEP + 2)).resolves.toEqual({ valid: false });
    });
  });
});

describe('totpEnrollment', () => {
  it('gives an otpauth:// URI naming the issuer, user and secret, and a QR code as SVG', async () => {
    const { uri, qrSvg } = await totpEnrollment(secret, 'alice@example.com', 'ztsh prod');
    expect(uri.startsWith('otpauth://totp/')).toBe(true);
    const url = new URL(uri);
    expect(url.searchParams.get('issuer')).toBe('ztsh prod');
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(decodeURIComponent(url.pathname)).toContain('alice@example.com');
    expect(decodeURIComponent(url.pathname)).toContain('ztsh prod');
    expect(qrSvg).toMatch(/^<svg[\s>]/);
    expect(qrSvg).toContain('</svg>');
  });

  it('makes a different QR code for a different secret', async () => {
    const a = await totpEnrollment(secret, 'alice', 'ztsh');
    const b = await totpEnrollment(newTotpSecret(), 'alice', 'ztsh');
    expect(a.uri).not.toBe(b.uri);
    expect(a.qrSvg).not.toBe(b.qrSvg);
  });
});
