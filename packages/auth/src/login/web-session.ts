// Sessions of the auditors' web page. A web login (start.ts) goes through the
// IdP and the second factor like any other; at approval, instead of a code
// for a CLI, the browser gets a random token for a cookie, of which only the
// SHA-256 is stored. What a session may do is decided on every request from
// its roles as they are defined then (http/caller.ts), and locks apply at once.
import { ZtshError } from '@ztsh/protocol';
import { lockMessage } from '../locks/locks.ts';
import type { LoginRecord, WebSessionRecord } from '../storage/storage.ts';
import { sha256, type LoginDeps } from './login-deps.ts';

/** No web session outlives a working day, nor the smallest max_session_ttl of its roles. */
export const WEB_SESSION_MAX_MS = 8 * 3_600_000;

export interface OpenedWebSession {
  /** For the cookie; shown to the browser once and never stored. */
  token: string;
  expiresAt: number;
}

/** A locked user (or role) gets no web session: the login ends here, audited. */
export async function refuseLockedWebLogin(deps: LoginDeps, login: LoginRecord): Promise<void> {
  const lock = login.user ? deps.locks.lockFor(login.user, login.grant?.roles ?? []) : undefined;
  if (!lock) return;
  await deps.storage.logins.transition(login.id, 'mfa', { status: 'failed', error: 'locked', mfaPending: null });
  await deps.audit.emit('user.login', false, {
    user: login.user,
    loginId: login.id,
    clientIp: login.clientIp,
    message: lockMessage(lock),
    fields: { reason: 'locked', lockId: lock.id, connector: login.connector, kind: login.kind },
  });
  throw new ZtshError('locked', lockMessage(lock), { hint: 'ask an administrator to remove the lock (ztsh lock ls)' });
}

/** Opens the session of an approved web login; the login is then spent. */
export async function openWebSession(deps: LoginDeps, login: LoginRecord): Promise<OpenedWebSession> {
  const grant = login.grant;
  if (!grant || !login.user) throw new ZtshError('internal', 'approved login without a grant');
  if (login.kind !== 'web') throw new ZtshError('internal', `a ${login.kind} login cannot open a web session`);
  const now = deps.clock.now().getTime();
  const token = deps.ids.id(32);
  const expiresAt = now + Math.min(WEB_SESSION_MAX_MS, grant.maxTtlMs);
  await deps.storage.webSessions.insert({
    hash: sha256(token),
    user: login.user,
    roles: grant.roles,
    loginId: login.id,
    clientIp: login.clientIp,
    createdAt: now,
    expiresAt,
  });
  await deps.storage.logins.transition(login.id, 'approved', { status: 'exchanged' });
  return { token, expiresAt };
}

/** The live session a cookie's token names, if any. */
export async function webSessionFor(deps: LoginDeps, token: string | undefined): Promise<WebSessionRecord | undefined> {
  // Tokens are 32 random bytes in base64url; anything else names no session.
  if (!token || !/^[\w-]{43}$/.test(token)) return undefined;
  return deps.storage.webSessions.get(sha256(token), deps.clock.now().getTime());
}

export async function endWebSession(deps: LoginDeps, token: string | undefined): Promise<boolean> {
  if (!token || !/^[\w-]{43}$/.test(token)) return false;
  return deps.storage.webSessions.remove(sha256(token));
}
