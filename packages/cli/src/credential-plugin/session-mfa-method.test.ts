import { describe, expect, it } from 'vitest';
import { CliError } from '../cli-error.ts';
import { parseSessionMfaMethod, pickSessionMfaMethod } from './session-mfa-method.ts';

describe('pickSessionMfaMethod: one choice for ztsh kube mfa and the credential plugin', () => {
  it('prefers a code on the terminal, and takes the security key when there is no code or no terminal to type it on', () => {
    expect(pickSessionMfaMethod(['totp', 'webauthn'], { terminal: true })).toBe('totp');
    expect(pickSessionMfaMethod(['webauthn', 'totp'], { terminal: true })).toBe('totp');
    expect(pickSessionMfaMethod(['webauthn'], { terminal: true })).toBe('webauthn');
    expect(pickSessionMfaMethod(['totp', 'webauthn'], { terminal: false })).toBe('webauthn');
    // Only a code: the caller refuses for want of a terminal, in its own words.
    expect(pickSessionMfaMethod(['totp'], { terminal: false })).toBe('totp');
  });

  it('--method overrides, but only for a method the user has', () => {
    expect(pickSessionMfaMethod(['totp', 'webauthn'], { asked: 'webauthn', terminal: true })).toBe('webauthn');
    expect(pickSessionMfaMethod(['totp', 'webauthn'], { asked: 'totp', terminal: false })).toBe('totp');
    const error = (() => {
      try {
        pickSessionMfaMethod(['totp'], { asked: 'webauthn', terminal: true });
      } catch (e) {
        return e as CliError;
      }
    })();
    expect(error).toBeInstanceOf(CliError);
    expect(error?.message).toBe('--method webauthn: you have no security key (webauthn) that session MFA accepts');
    expect(error?.hint).toBe('use --method totp');
  });

  it('a user with neither gets a clear error with what to do', () => {
    expect(() => pickSessionMfaMethod([], { terminal: true })).toThrow(/no second factor that session MFA accepts/);
    expect(() => pickSessionMfaMethod([], { asked: 'totp', terminal: true })).toThrow(expect.objectContaining({ hint: expect.stringMatching(/ztsh login/) }));
  });

  it('parses --method and refuses anything else as a usage error', () => {
    expect(parseSessionMfaMethod(undefined)).toBeUndefined();
    expect(parseSessionMfaMethod('totp')).toBe('totp');
    expect(parseSessionMfaMethod('webauthn')).toBe('webauthn');
    for (const bad of ['TOTP', 'sms', '', 'webauthn ']) {
      expect(() => parseSessionMfaMethod(bad), bad).toThrow(CliError);
    }
  });
});
