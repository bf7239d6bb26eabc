// Which second factor a session MFA check uses, decided in one place for
// `ztsh kube mfa` and the credential plugin. The proxy says which ones the
// user has (GET /v1/session-mfa); a TOTP code typed on the terminal is the
// fastest, so it wins when the user has one and a terminal is there; a
// security key goes through the browser. `--method` overrides.
import { SessionMfaMethods, type SessionMfaMethod } from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import type { ApiClient } from '../http.ts';
import { safeText } from '../terminal-safe.ts';

export type { SessionMfaMethod };

const NAMES: Record<SessionMfaMethod, string> = { totp: 'authenticator app (totp)', webauthn: 'security key (webauthn)' };

/**
 * `asked`: the --method the user named. `terminal`: whether a code can be
 * typed; without one a security key is preferred (the caller still refuses
 * TOTP then, with its own words).
 */
export function pickSessionMfaMethod(methods: readonly SessionMfaMethod[], options: { asked?: SessionMfaMethod | undefined; terminal: boolean }): SessionMfaMethod {
  const has = (m: SessionMfaMethod) => methods.includes(m);
  if (options.asked) {
    if (has(options.asked)) return options.asked;
    throw new CliError(
      `--method ${options.asked}: you have no ${NAMES[options.asked]} that session MFA accepts`,
      methods.length ? `use --method ${methods.join(' or --method ')}` : enrollHint,
      2,
    );
  }
  if (has('totp') && (options.terminal || !has('webauthn'))) return 'totp';
  if (has('webauthn')) return 'webauthn';
  throw new CliError(
    `you have no second factor that session MFA accepts (the proxy offers: ${safeText(methods.join(', ') || 'none')})`,
    enrollHint,
  );
}

const enrollHint = 'enroll an authenticator app or a security key: run ztsh logout, then ztsh login (a user with no second factor sets one up there), or ask an admin';

/** Asks the proxy which methods the user has and picks one. */
export async function chooseSessionMfaMethod(api: ApiClient, options: { asked?: SessionMfaMethod | undefined; terminal: boolean }): Promise<SessionMfaMethod> {
  const { methods } = await api.call('GET', '/v1/session-mfa', SessionMfaMethods);
  return pickSessionMfaMethod(methods, options);
}

/** `--method` as given on the command line. */
export function parseSessionMfaMethod(text: string | undefined): SessionMfaMethod | undefined {
  if (text === undefined) return undefined;
  if (text === 'totp' || text === 'webauthn') return text;
  throw new CliError(`--method "${safeText(text)}" is not a second factor`, 'use --method totp or --method webauthn', 2);
}
