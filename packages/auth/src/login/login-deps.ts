// What every login step needs, and the checks they share.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { type Role, ZtshError } from '@ztsh/protocol';
import type { AccessRequestNotifier } from '../access-requests/notifier.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { CertAuthority } from '../ca/authority.ts';
import type { Clock, IdSource } from '../clock.ts';
import type { AuthConfig } from '../config.ts';
import type { RelyingParty } from '../mfa/webauthn.ts';
import type { Locks } from '../locks/locks.ts';
import type { OidcConnector } from '../oidc/connector.ts';
import type { LoginRecord, Storage } from '../storage/storage.ts';

export interface LoginDeps {
  storage: Storage;
  clock: Clock;
  ids: IdSource;
  audit: AuditLog;
  locks: Locks;
  log: Logger;
  /** The address users and browsers know, e.g. https://access.example.com */
  publicUrl: URL;
  connectors: Map<string, OidcConnector>;
  defaultConnector: string;
  roles: Map<string, Role>;
  policy: Pick<AuthConfig, 'mfa' | 'mfa_methods' | 'cluster_name'> & { defaultTtlMs: number };
  userCa: CertAuthority;
  hostCa: CertAuthority;
  rp: RelyingParty;
  /** Told of access requests made and decided (the webhook); none: nobody is told. */
  accessRequestNotifier?: AccessRequestNotifier | undefined;
}

/** A login may take this long from start to certificate. */
export const LOGIN_TTL_MS = 10 * 60_000;
/** One-time codes handed to the browser live this long. */
export const CODE_TTL_MS = 60_000;
/** Device-code clients poll no faster than this. */
export const DEVICE_POLL_INTERVAL_SEC = 2;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Loads a login that is still alive. */
export async function liveLogin(deps: LoginDeps, id: string): Promise<LoginRecord> {
  const login = await deps.storage.logins.get(id);
  if (!login) throw new ZtshError('login_not_found', 'this login does not exist', { hint: 'run ztsh login again' });
  if (login.expiresAt < deps.clock.now().getTime()) {
    throw new ZtshError('login_expired', 'this login has expired', { hint: 'run ztsh login again' });
  }
  return login;
}

/** Loads a login and checks that this browser is the one that started it. */
export async function browserLogin(deps: LoginDeps, id: string, browserSecret: string | undefined): Promise<LoginRecord> {
  const login = await liveLogin(deps, id);
  if (!browserSecret || !login.browserHash || !sameHash(sha256(browserSecret), login.browserHash)) {
    throw new ZtshError('state_mismatch', 'this browser did not start this login', {
      hint: 'open the login link from ztsh again in this browser',
    });
  }
  return login;
}

export function connectorFor(deps: LoginDeps, name: string | undefined): OidcConnector {
  const chosen = name ?? deps.defaultConnector;
  const connector = deps.connectors.get(chosen);
  if (!connector) {
    throw new ZtshError('unknown_connector', `unknown connector "${chosen}"`, {
      hint: `known connectors: ${[...deps.connectors.keys()].join(', ')}`,
    });
  }
  return connector;
}
