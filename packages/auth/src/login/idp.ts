// The IdP leg: send the browser to the connector with fresh state, nonce and
// PKCE, then take the callback, verify the ID token and map claims to roles.
import * as oidc from 'openid-client';
import { ZtshError } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';
import { claimValues, rolesFromClaims, traitsFrom } from '../oidc/claims.ts';
import { grantFor } from '../roles/role-set.ts';
import type { LoginRecord } from '../storage/storage.ts';
import { connectorFor, liveLogin, sameHash, sha256, type LoginDeps } from './login-deps.ts';

export interface IdpRedirect {
  url: URL;
  /** Binds this browser to the login; set as an HttpOnly cookie. */
  browserSecret: string;
}

export async function beginIdp(deps: LoginDeps, loginId: string): Promise<IdpRedirect> {
  const login = await liveLogin(deps, loginId);
  // Only logins go to the IdP; a session MFA check never gets a grant from it.
  if (login.kind === 'session_mfa') throw new ZtshError('bad_request', 'a session MFA check does not sign in at the IdP', { hint: 'open the link ztsh kube mfa printed' });
  if (login.status !== 'started' && login.status !== 'idp') {
    throw new ZtshError('login_expired', 'this login link was already used', { hint: 'run ztsh login again' });
  }
  const connector = connectorFor(deps, login.connector);
  const checks = { state: oidc.randomState(), nonce: oidc.randomNonce(), pkceVerifier: oidc.randomPKCECodeVerifier() };
  const url = await connector.authorizationUrl(checks);
  const browserSecret = deps.ids.id(32);
  const moved = await deps.storage.logins.transition(login.id, login.status, {
    status: 'idp',
    oidcState: checks.state,
    oidcNonce: checks.nonce,
    pkceVerifier: checks.pkceVerifier,
    browserHash: sha256(browserSecret),
  });
  if (!moved) throw new ZtshError('conflict', 'this login changed in the meantime', { hint: 'run ztsh login again' });
  return { url, browserSecret };
}

/** A login that failed for good; browser logins report it to the client's callback. */
export class LoginFailed extends Error {
  constructor(
    readonly error: ZtshError,
    readonly login: LoginRecord,
  ) {
    super(error.message, { cause: error });
  }
}

export type NextStep = 'mfa' | 'enroll' | 'approve';

export interface CallbackResult {
  login: LoginRecord;
  next: NextStep;
}

/** Handles the IdP's redirect back. Every failure is audited and ends the login. */
export async function idpCallback(deps: LoginDeps, currentUrl: URL, browserSecret: string | undefined): Promise<CallbackResult> {
  const state = currentUrl.searchParams.get('state');
  const login = state ? await deps.storage.logins.findByState(state) : undefined;
  if (!login || login.status !== 'idp' || login.kind === 'session_mfa') {
    await deps.audit.emit('user.login', false, { message: 'unknown or replayed state in IdP callback', fields: { reason: 'state_mismatch' } });
    throw new ZtshError('state_mismatch', 'the sign-in response does not belong to a login in progress', {
      hint: 'run ztsh login again and finish it in the same browser',
    });
  }
  try {
    await liveLogin(deps, login.id);
    if (!browserSecret || !login.browserHash || !sameHash(sha256(browserSecret), login.browserHash)) {
      throw new ZtshError('state_mismatch', 'this browser did not start this login', {
        hint: 'open the login link from ztsh again in this browser',
      });
    }
    const connector = connectorFor(deps, login.connector);
    const claims = await connector.callback(currentUrl, {
      state: login.oidcState!,
      nonce: login.oidcNonce!,
      pkceVerifier: login.pkceVerifier!,
    });
    const user = claimValues(claims, connector.config.username_claim)[0];
    if (!user) {
      throw new ZtshError('idp_error', `the ID token has no "${connector.config.username_claim}" claim to name the user`, {
        hint: 'set username_claim on the connector to a claim the IdP sends',
      });
    }
    const traits = traitsFrom(claims);
    const roleNames = rolesFromClaims(connector.config, claims);
    if (roleNames.length === 0) {
      const groups = claimValues(claims, 'groups');
      throw new ZtshError(
        'no_roles',
        `no ztsh role is mapped to ${user}'s IdP claims${groups.length ? ` (groups: ${groups.join(', ')})` : ''}`,
        { hint: 'ask an administrator to map one of your groups in the connector\'s claims_to_roles', details: { user } },
      );
    }
    const roles = roleNames.map((name) => deps.roles.get(name)!).filter(Boolean);
    const grant = grantFor(roles, traits, { defaultTtlMs: deps.policy.defaultTtlMs, mfa: deps.policy.mfa });
    if (connector.config.max_session_ttl) {
      grant.maxTtlMs = Math.min(grant.maxTtlMs, parseDuration(connector.config.max_session_ttl));
    }
    await deps.storage.users.upsertLogin(user, deps.clock.now().getTime(), traits);
    const devices = (await deps.storage.mfa.list(user)).filter((d) => deps.policy.mfa_methods.includes(d.kind));
    const next: NextStep = devices.length > 0 ? 'mfa' : grant.requireMfa ? 'enroll' : 'approve';
    const moved = await deps.storage.logins.transition(login.id, 'idp', { status: 'mfa', user, grant, oidcState: null });
    if (!moved) throw new ZtshError('state_mismatch', 'this sign-in response was already used', { hint: 'run ztsh login again' });
    return { login: { ...login, status: 'mfa', user, grant }, next };
  } catch (error) {
    const failure =
      error instanceof ZtshError ? error : new ZtshError('internal', 'login failed', { cause: error });
    await deps.storage.logins.transition(login.id, 'idp', { status: 'failed', error: failure.code, oidcState: null });
    const user = (failure.details?.user as string | undefined) ?? null;
    await deps.audit.emit('user.login', false, {
      user,
      loginId: login.id,
      clientIp: login.clientIp,
      message: failure.message,
      fields: { reason: failure.code, connector: login.connector, kind: login.kind },
    });
    deps.log.warn({ loginId: login.id, code: failure.code, err: failure.cause ?? failure }, 'login failed at the IdP step');
    throw new LoginFailed(failure, login);
  }
}
