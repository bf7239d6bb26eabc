// The storage interface of the auth service. SQLite (better-sqlite3) is the
// embedded default; the interface keeps the engine replaceable.
import type { AuditEvent } from '@ztsh/protocol';

export type LoginKind = 'browser' | 'device';
export type LoginStatus = 'started' | 'idp' | 'mfa' | 'approved' | 'exchanged' | 'failed';

export interface LoginRecord {
  id: string;
  kind: LoginKind;
  connector: string;
  publicKey: string;
  redirect: string | null;
  verifierHash: string;
  ttlMs: number | null;
  client: { name: string; hostname: string; version?: string | undefined } | null;
  clientIp: string;
  status: LoginStatus;
  /** SHA-256 of the secret cookie that binds the browser to this login. */
  browserHash: string | null;
  oidcState: string | null;
  oidcNonce: string | null;
  pkceVerifier: string | null;
  user: string | null;
  /** Roles, traits and kube principals mapped from the IdP claims. */
  grant: LoginGrant | null;
  mfaMethod: 'totp' | 'webauthn' | null;
  /** Pending MFA step data: a TOTP secret during enrollment, a WebAuthn challenge. */
  mfaPending: { totpSecret?: string; challenge?: string } | null;
  codeHash: string | null;
  codeExpiresAt: number | null;
  userCode: string | null;
  deviceCodeHash: string | null;
  lastPollAt: number | null;
  error: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface LoginGrant {
  roles: string[];
  traits: Record<string, string[]>;
  kubernetesGroups: string[];
  kubernetesUsers: string[];
  requireMfa: boolean;
  maxTtlMs: number;
}

export interface TotpDevice {
  id: string;
  user: string;
  kind: 'totp';
  name: string;
  secret: string;
  lastTimeStep: number;
  createdAt: number;
}

export interface WebauthnDevice {
  id: string;
  user: string;
  kind: 'webauthn';
  name: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  createdAt: number;
}

export type MfaDevice = TotpDevice | WebauthnDevice;

export interface MfaFailures {
  failures: number;
  lockedUntil: number;
}

export interface JoinTokenRecord {
  /** Public handle for ls/rm: never the token itself. */
  id: string;
  /** SHA-256 of the token; the token is shown once and not stored. */
  hash: string;
  type: 'agent';
  cluster: string;
  /** null: until it expires. */
  usesLeft: number | null;
  createdAt: number;
  expiresAt: number;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'seq' | 'prevHash' | 'hash'>;

export interface Storage {
  logins: {
    insert(login: LoginRecord): void;
    get(id: string): LoginRecord | undefined;
    findByState(state: string): LoginRecord | undefined;
    findByCodeHash(codeHash: string): LoginRecord | undefined;
    findByUserCode(userCode: string): LoginRecord | undefined;
    findByDeviceCodeHash(hash: string): LoginRecord | undefined;
    update(id: string, patch: Partial<LoginRecord>): void;
    /**
     * Atomically moves a login from one status to another; false when it was
     * not in `from` (a replay, a race) — the caller must then refuse.
     */
    transition(id: string, from: LoginStatus, patch: Partial<LoginRecord> & { status: LoginStatus }): boolean;
    deleteExpired(before: number): number;
  };
  mfa: {
    list(user: string): MfaDevice[];
    add(device: MfaDevice): void;
    /** Records a used TOTP step only if it is newer than the last one (replay guard). */
    advanceTotpStep(deviceId: string, timeStep: number): boolean;
    setWebauthnCounter(deviceId: string, counter: number): void;
    failures(user: string): MfaFailures;
    setFailures(user: string, value: MfaFailures): void;
  };
  users: {
    upsertLogin(user: string, at: number, traits: Record<string, string[]>): void;
  };
  joinTokens: {
    insert(token: JoinTokenRecord): void;
    list(): JoinTokenRecord[];
    remove(id: string): boolean;
    /**
     * Atomically spends one use of the token with this hash, if it is for
     * `cluster` and alive at `now`; returns the token as it was, or why not.
     */
    redeem(hash: string, cluster: string, now: number): JoinTokenRecord | 'unknown' | 'expired' | 'wrong_cluster' | 'used';
  };
  audit: {
    append(event: NewAuditEvent): AuditEvent;
    list(options?: { limit?: number; afterSeq?: number }): AuditEvent[];
  };
  close(): void;
}
