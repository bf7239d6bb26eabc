// The first step of every login. The CLI's flows (browser, device) send the
// client's public key and a hash of a verifier only it knows; nothing secret
// comes over the wire. A web login (the auditors' page) sends neither.
import type { DeviceStartRequest, DeviceStartResponse, LoginStartRequest, LoginStartResponse } from '@ztsh/protocol';
import { checkPublicKey } from '../ca/issuer.ts';
import { parseDuration } from '../duration.ts';
import type { LoginRecord } from '../storage/storage.ts';
import { connectorFor, DEVICE_POLL_INTERVAL_SEC, LOGIN_TTL_MS, sha256, type LoginDeps } from './login-deps.ts';

/** A login record with nothing done yet; the client's key and verifier are filled in by the flows that issue certificates. */
export function blankLogin(deps: LoginDeps, kind: LoginRecord['kind'], connector: string, clientIp: string): LoginRecord {
  const now = deps.clock.now().getTime();
  return {
    id: deps.ids.id(),
    kind,
    connector,
    publicKey: '',
    redirect: null,
    verifierHash: '',
    ttlMs: null,
    client: null,
    clientIp,
    status: 'started',
    browserHash: null,
    oidcState: null,
    oidcNonce: null,
    pkceVerifier: null,
    user: null,
    grant: null,
    mfaMethod: null,
    mfaPending: null,
    codeHash: null,
    codeExpiresAt: null,
    userCode: null,
    deviceCodeHash: null,
    lastPollAt: null,
    error: null,
    sessionMfa: null,
    createdAt: now,
    expiresAt: now + LOGIN_TTL_MS,
  };
}

function newLogin(
  deps: LoginDeps,
  request: LoginStartRequest | DeviceStartRequest,
  clientIp: string,
  kind: LoginRecord['kind'],
): LoginRecord {
  const connector = connectorFor(deps, request.connector);
  checkPublicKey(request.publicKey);
  return {
    ...blankLogin(deps, kind, connector.name, clientIp),
    publicKey: request.publicKey,
    verifierHash: request.verifierHash,
    ttlMs: request.ttl ? parseDuration(request.ttl) : null,
    client: request.client ?? null,
  };
}

export async function startBrowserLogin(deps: LoginDeps, request: LoginStartRequest, clientIp: string): Promise<LoginStartResponse> {
  const login = { ...newLogin(deps, request, clientIp, 'browser'), redirect: request.redirect };
  await deps.storage.logins.insert(login);
  return {
    loginId: login.id,
    url: new URL(`/login/${login.id}`, deps.publicUrl).toString(),
    expiresAt: new Date(login.expiresAt).toISOString(),
  };
}

/**
 * A sign-in to the auditors' web page: the same IdP and second factor, but
 * no key and no code; approval opens a web session instead (web-session.ts).
 */
export async function startWebLogin(deps: LoginDeps, connector: string | undefined, clientIp: string): Promise<LoginRecord> {
  const login = blankLogin(deps, 'web', connectorFor(deps, connector).name, clientIp);
  await deps.storage.logins.insert(login);
  return login;
}

/** Letters no one confuses with each other or with digits. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export function newUserCode(random: (n: number) => Buffer): string {
  const bytes = random(8);
  const chars = [...bytes].map((b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

export function normalizeUserCode(text: string): string {
  const letters = text.toUpperCase().replace(/[^A-Z]/g, '');
  return letters.length === 8 ? `${letters.slice(0, 4)}-${letters.slice(4)}` : letters;
}

export async function startDeviceLogin(deps: LoginDeps, request: DeviceStartRequest, clientIp: string): Promise<DeviceStartResponse> {
  const deviceCode = deps.ids.id(32);
  const userCode = newUserCode((n) => Buffer.from(deps.ids.id(n), 'base64url'));
  const login = { ...newLogin(deps, request, clientIp, 'device'), userCode, deviceCodeHash: sha256(deviceCode) };
  await deps.storage.logins.insert(login);
  const verificationUri = new URL('/device', deps.publicUrl);
  const complete = new URL(verificationUri);
  complete.searchParams.set('user_code', userCode);
  return {
    deviceCode,
    userCode,
    verificationUri: verificationUri.toString(),
    verificationUriComplete: complete.toString(),
    interval: DEVICE_POLL_INTERVAL_SEC,
    expiresAt: new Date(login.expiresAt).toISOString(),
  };
}
