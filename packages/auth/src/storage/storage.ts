// The storage interface of the auth service. SQLite (better-sqlite3) is the
// embedded default; the interface keeps the engine replaceable.
import type { AccessRequestReview, AccessRequestState, AuditEvent, LockRecord, RequestedResource, SessionKind, SessionPatch, SessionRecord } from '@ztsh/protocol';

// Records the proxy shares with auth are defined in @ztsh/protocol, once.
export type { LockRecord, SessionKind, SessionRecord };

/**
 * browser and device logins end in a certificate; web logins in a session on
 * the auditors' page; session_mfa records are a signed-in user's browser
 * check (a security key) that ends in a session MFA certificate, never a login.
 */
export type LoginKind = 'browser' | 'device' | 'web' | 'session_mfa';
export type LoginStatus = 'started' | 'idp' | 'mfa' | 'approved' | 'exchanged' | 'failed';

export interface LoginRecord {
  id: string;
  kind: LoginKind;
  connector: string;
  /** The client's public key (PEM); empty for web logins, which get no certificate. */
  publicKey: string;
  redirect: string | null;
  /** Empty for web logins: no client waits to exchange a code. */
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
  /** Set on session_mfa records only: what the check is bound to. */
  sessionMfa: SessionMfaCheck | null;
  createdAt: number;
  expiresAt: number;
}

/** A browser session MFA check's bindings, fixed when it starts. */
export interface SessionMfaCheck {
  /** Sorted, without repeats: the redeem must name the same. */
  clusters: string[];
  /** The certificate the check was started with (hex serial, notAfter in ms): the redeem must show the same one. */
  certSerial: string;
  certNotAfter: number;
  /** The device that answered in the browser, once it did. */
  deviceId?: string | undefined;
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

export type JoinTokenType = 'agent' | 'proxy';

export interface JoinTokenRecord {
  /** Public handle for ls/rm: never the token itself. */
  id: string;
  /** SHA-256 of the token; the token is shown once and not stored. */
  hash: string;
  type: JoinTokenType;
  /** The cluster an agent token is bound to; empty for a proxy token. */
  cluster: string;
  /** null: until it expires. */
  usesLeft: number | null;
  createdAt: number;
  expiresAt: number;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'seq' | 'prevHash' | 'hash'>;

export interface AuditQuery {
  user?: string | undefined;
  cluster?: string | undefined;
  /** An exact type, or a prefix ending in "." or "*" ("kube.", "session.*"). */
  type?: string | undefined;
  success?: boolean | undefined;
  sessionId?: string | undefined;
  /** An access request id: events whose fields.accessRequest is it or whose fields.accessRequests holds it. */
  accessRequest?: string | undefined;
  /** ISO 8601, inclusive. */
  since?: string | undefined;
  /** ISO 8601, exclusive. */
  until?: string | undefined;
  /** Words or a phrase, matched against the message, command and fields (FTS5). */
  text?: string | undefined;
  limit?: number | undefined;
  /** Page on: events after this one in newest-first order. */
  before?: { time: string; seq: number } | undefined;
}

export type AuditVerdict =
  | { ok: true; events: number; lastSeq: number; lastHash: string }
  | { ok: false; events: number; brokenAt: number; problem: string };

export interface SessionQuery {
  user?: string | undefined;
  cluster?: string | undefined;
  kind?: SessionKind | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** Full-text over the command and what was typed and shown. */
  text?: string | undefined;
  limit?: number | undefined;
  /** Page on: sessions that started before this one. */
  before?: { startedAt: number; id: string } | undefined;
}

/** A signed-in browser on the auditors' web page. */
export interface WebSessionRecord {
  /** SHA-256 of the cookie's token; the token itself is never stored. */
  hash: string;
  user: string;
  /** The roles granted at sign-in; what they permit is looked up on every request. */
  roles: string[];
  loginId: string;
  clientIp: string;
  createdAt: number;
  expiresAt: number;
}

/** An access request as stored (access-requests/ holds its rules). Times are ms since the epoch. */
export interface AccessRequestRecord {
  id: string;
  user: string;
  /** The roles it grants once approved (for single resources: limited to `resources`). */
  roles: string[];
  resources: RequestedResource[];
  reason: string;
  state: AccessRequestState;
  createdAt: number;
  pendingUntil: number;
  durationMs: number;
  /** Set when approved: approval time + durationMs. */
  accessUntil: number | null;
  thresholds: { approve: number; deny: number };
  suggestedReviewers: string[];
  reviews: AccessRequestReview[];
  /** Bumped by every update: a write names the version it read, so concurrent reviews or expiries on several replicas cannot both apply. */
  version: number;
}

export interface AccessRequestQuery {
  user?: string | undefined;
  state?: AccessRequestState | undefined;
  limit?: number | undefined;
}

export type ChangeTopic = 'locks' | 'join_tokens' | 'roles';

/** A proxy replica as it last announced itself. */
export interface ReplicaRecord {
  id: string;
  /** How other replicas and agents may reach it directly, if at all (host:port). */
  addr: string | null;
  startedAt: number;
  heartbeatAt: number;
}

/** A CA's certificate bundle and its private key, as authority.ts keeps them in files (the key possibly sealed). */
export interface StoredAuthority {
  certPem: string;
  keyPem: string;
}

export interface AuthorityStore {
  load(kind: 'user' | 'host'): Promise<StoredAuthority | undefined>;
  /** Stores this pair unless one is there already; returns the one that is kept (first writer wins). */
  createIfAbsent(kind: 'user' | 'host', pair: StoredAuthority): Promise<StoredAuthority>;
}

/** A session recording written in chunks into the store. */
export interface RecordingStore {
  /** Appends the next chunk; `seq` counts from 0 per session, so a retried write is not kept twice. */
  append(sessionId: string, seq: number, data: Uint8Array): Promise<void>;
  /** The whole recording as written so far, or undefined if nothing was. */
  read(sessionId: string): Promise<Uint8Array | undefined>;
  /** Bytes written so far. */
  size(sessionId: string): Promise<number>;
}

/**
 * How far an audit append has gone when it resolves: `synced`, on disk
 * (security events, refusals); `written`, handed to the operating system,
 * so a crash of ztshd loses none of it, and synced to disk within about
 * 100 ms (allowed kube requests: docs/security-model.md).
 */
export type AuditDurability = 'synced' | 'written';

export interface Storage {
  logins: {
    insert(login: LoginRecord): Promise<void>;
    get(id: string): Promise<LoginRecord | undefined>;
    findByState(state: string): Promise<LoginRecord | undefined>;
    findByCodeHash(codeHash: string): Promise<LoginRecord | undefined>;
    findByUserCode(userCode: string): Promise<LoginRecord | undefined>;
    findByDeviceCodeHash(hash: string): Promise<LoginRecord | undefined>;
    update(id: string, patch: Partial<LoginRecord>): Promise<void>;
    /**
     * Atomically moves a login from one status to another; false when it was
     * not in `from` (a replay, a race) — the caller must then refuse.
     */
    transition(id: string, from: LoginStatus, patch: Partial<LoginRecord> & { status: LoginStatus }): Promise<boolean>;
    deleteExpired(before: number): Promise<number>;
  };
  mfa: {
    list(user: string): Promise<MfaDevice[]>;
    add(device: MfaDevice): Promise<void>;
    /** Whether a security key with this credential id is registered to anyone. */
    credentialRegistered(credentialId: string): Promise<boolean>;
    /** Records a used TOTP step only if it is newer than the last one (replay guard). */
    advanceTotpStep(deviceId: string, timeStep: number): Promise<boolean>;
    setWebauthnCounter(deviceId: string, counter: number): Promise<void>;
    failures(user: string): Promise<MfaFailures>;
    setFailures(user: string, value: MfaFailures): Promise<void>;
    /**
     * Counts a wrong second factor: reads the user's counter, applies `next`
     * (pure and synchronous: the back-off) and stores the result as one
     * atomic step, so wrong codes sent at once to several replicas are each
     * counted. Resolves to what was stored.
     */
    recordFailure(user: string, next: (current: MfaFailures) => MfaFailures): Promise<MfaFailures>;
  };
  users: {
    upsertLogin(user: string, at: number, traits: Record<string, string[]>): Promise<void>;
  };
  joinTokens: {
    insert(token: JoinTokenRecord): Promise<void>;
    list(): Promise<JoinTokenRecord[]>;
    remove(id: string): Promise<boolean>;
    /**
     * Atomically spends one use of the token with this hash, if it is of
     * this type, for `cluster` (agents) and alive at `now`; returns the token
     * as it was, or why not.
     */
    redeem(hash: string, type: JoinTokenType, cluster: string, now: number): Promise<JoinTokenRecord | 'unknown' | 'wrong_type' | 'expired' | 'wrong_cluster' | 'used'>;
  };
  audit: {
    /** One event, on disk when this returns. */
    append(event: NewAuditEvent): Promise<AuditEvent>;
    /**
     * Several events in one transaction, chained in the given order.
     * `synced` (the default): on disk when this returns. `written`: kept
     * through a crash of this process when this returns, on disk shortly
     * after (AuditDurability); an engine that commits to a server makes no
     * difference.
     */
    appendMany(events: NewAuditEvent[], durability?: AuditDurability): Promise<AuditEvent[]>;
    list(options?: { limit?: number; afterSeq?: number }): Promise<AuditEvent[]>;
    /** Newest first. */
    search(query: AuditQuery): Promise<AuditEvent[]>;
    /** Walks the whole chain; names the first event whose hash or link does not hold. */
    verify(): Promise<AuditVerdict>;
  };
  sessions: {
    /** proxyId: the host id of the proxy that relays it, when that proxy runs apart from auth. */
    insert(session: SessionRecord, proxyId?: string | null): Promise<void>;
    update(id: string, patch: SessionPatch): Promise<void>;
    get(id: string): Promise<SessionRecord | undefined>;
    /** How many sessions have an id starting with `prefix`, and the first of their ids. */
    withPrefix(prefix: string): Promise<{ count: number; id: string | undefined }>;
    /** Newest first. */
    search(query: SessionQuery): Promise<SessionRecord[]>;
    /** Stores the text the full-text search sees for this session (replaces any earlier). */
    index(id: string, command: string, content: string): Promise<void>;
    /** Sessions not ended yet that this proxy relays (null: the proxy in this process). */
    unfinished(proxyId?: string | null): Promise<SessionRecord[]>;
    /** The proxy that relays this session (null: the one in this process); undefined when there is no such session. */
    proxyOf(id: string): Promise<string | null | undefined>;
  };
  locks: {
    insert(lock: LockRecord): Promise<void>;
    remove(id: string): Promise<boolean>;
    /** Locks in force at `now` (expired ones are left out). */
    active(now: number): Promise<LockRecord[]>;
  };
  accessRequests: {
    insert(request: AccessRequestRecord): Promise<void>;
    get(id: string): Promise<AccessRequestRecord | undefined>;
    /** Newest first. */
    list(query: AccessRequestQuery): Promise<AccessRequestRecord[]>;
    /** Pending past pendingUntil or approved past accessUntil at `now`. */
    due(now: number, limit: number): Promise<AccessRequestRecord[]>;
    /**
     * Writes `patch` (and version + 1) only if the stored version is still
     * `version`: false when another writer got there first, and the caller
     * reads again or gives up.
     */
    update(id: string, version: number, patch: Partial<Omit<AccessRequestRecord, 'id' | 'user' | 'version'>>): Promise<boolean>;
    /** How many requests of this user are pending. */
    pendingCount(user: string): Promise<number>;
  };
  webSessions: {
    insert(session: WebSessionRecord): Promise<void>;
    /** The session with this token hash, if it is still alive at `now`. */
    get(hash: string, now: number): Promise<WebSessionRecord | undefined>;
    remove(hash: string): Promise<boolean>;
    deleteExpired(before: number): Promise<number>;
  };
  /**
   * Recordings kept in the store itself (PostgreSQL: chunks written at least
   * every second, readable from every replica); null: files under the data
   * dir (the SQLite default).
   */
  recordings: RecordingStore | null;
  /**
   * CA key pairs kept in the store, so every replica signs with the same CA
   * and replicas starting together agree on one (PostgreSQL); null: files
   * under data_dir/ca (the SQLite default).
   */
  authorities: AuthorityStore | null;
  /** The proxy replicas sharing this store, each heartbeating its row. */
  replicas: {
    heartbeat(replica: ReplicaRecord): Promise<void>;
    /** Replicas whose last heartbeat is at or after `since`. */
    live(since: number): Promise<ReplicaRecord[]>;
    remove(id: string): Promise<void>;
  };
  /**
   * Tells every process on this store that something cached changed
   * (PostgreSQL: NOTIFY; SQLite: this process only, others poll).
   */
  changes: {
    publish(topic: ChangeTopic): Promise<void>;
    subscribe(listener: (topic: ChangeTopic) => void): () => void;
  };
  /** Stops the engine; pending writes are finished first. */
  close(): Promise<void>;
}
