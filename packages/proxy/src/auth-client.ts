// What the proxy needs from the auth service, and nothing more: the CAs to
// trust, the current definition of roles, locks, and a place to put audit
// events and session records. In one process it is a direct call; with the
// proxy run apart it is HTTPS with the proxy's host certificate
// (http-auth-client.ts). The proxy never opens the database.
//
// What must be stored before the proxy goes on (a refusal's audit event, a
// session's start) may return a promise: in one process it is already on
// disk and nothing is returned, so the common path stays synchronous.
import { lockMessage, type AuditInput, type AuthService, type Role, type SessionRecord } from '@ztsh/auth';
import type { AuditEventType } from '@ztsh/protocol';

export interface AuthClient {
  userCaCertificates(): string[];
  hostCaCertificates(): string[];
  /** The roles with these names as they are defined now; unknown names are skipped. */
  roles(names: string[]): Role[];
  /** Why this identity is locked out, or undefined. Asked on every request: must be cheap. */
  lockFor(user: string, roles: readonly string[]): { id: string; message: string } | undefined;
  /** Called when a lock is added or removed. */
  onLocksChanged(listener: () => void): () => void;
  /** Why no request can be served now (the proxy has lost touch with auth), or undefined. */
  unavailable(): string | undefined;
  /**
   * durable: stored before this returns or its promise resolves (security
   * events); a rejected promise means it could not be stored yet. Otherwise
   * batched.
   */
  audit(type: AuditEventType, success: boolean, input: AuditInput, durable: boolean): MaybePromise<void>;
  sessions: {
    /** Rejects (or throws) when the session cannot be recorded: it must then not run. */
    start(session: SessionRecord): MaybePromise<void>;
    /** A patch with endedAt says the session is over and its recording complete. */
    update(id: string, patch: Partial<Omit<SessionRecord, 'id'>>): MaybePromise<void>;
    index(id: string, command: string, content: string): MaybePromise<void>;
    /** Sessions this proxy relayed that were never ended (it stopped without closing them). */
    unfinished(): MaybePromise<SessionRecord[]>;
  };
  /** Where session recordings are written. */
  recordingsDir: string;
}

export type MaybePromise<T> = T | Promise<T>;

/** Runs `then` once `stored` has settled (at once when it is no promise); a failure to store is logged. */
export function whenStored(stored: MaybePromise<void>, onFailure: (error: unknown) => void, then: () => void): void {
  if (!(stored instanceof Promise)) return then();
  stored.then(then, (error: unknown) => {
    onFailure(error);
    then();
  });
}

export function inProcessAuthClient(auth: AuthService): AuthClient {
  const { deps, storage } = auth;
  return {
    userCaCertificates: () => auth.userCa.trustBundle,
    hostCaCertificates: () => auth.hostCa.trustBundle,
    roles: (names) => names.flatMap((n) => deps.roles.get(n) ?? []),
    lockFor: (user, roles) => {
      const lock = deps.locks.lockFor(user, roles);
      return lock ? { id: lock.id, message: lockMessage(lock) } : undefined;
    },
    onLocksChanged: (listener) => deps.locks.subscribe(listener),
    unavailable: () => undefined,
    audit: (type, success, input, durable) => {
      if (durable) deps.audit.emit(type, success, input);
      else deps.audit.queue(type, success, input);
    },
    sessions: {
      start: (session) => storage.sessions.insert(session),
      update: (id, patch) => storage.sessions.update(id, patch),
      index: (id, command, content) => storage.sessions.index(id, command, content),
      unfinished: () => storage.sessions.unfinished(),
    },
    recordingsDir: auth.recordingsDir,
  };
}

/**
 * An AuthClient to hand the proxy before the auth service exists (ztshd
 * listens first, to learn its port). Until bind(), it trusts no CA, so every
 * kube request is refused, and there is nothing to audit against.
 */
export function lateAuthClient(): { client: AuthClient; bind(real: AuthClient): void } {
  let real: AuthClient | undefined;
  const lockListeners = new Set<() => void>();
  const client: AuthClient = {
    userCaCertificates: () => real?.userCaCertificates() ?? [],
    hostCaCertificates: () => real?.hostCaCertificates() ?? [],
    roles: (names) => real?.roles(names) ?? [],
    lockFor: (user, roles) => real?.lockFor(user, roles),
    onLocksChanged: (listener) => {
      lockListeners.add(listener);
      return () => lockListeners.delete(listener);
    },
    unavailable: () => (real ? real.unavailable() : 'ztshd is starting'),
    audit: (...args) => real?.audit(...args),
    sessions: {
      start: (s) => {
        if (!real) throw new Error('the auth service is not ready');
        return real.sessions.start(s);
      },
      update: (id, patch) => real?.sessions.update(id, patch),
      index: (id, command, content) => real?.sessions.index(id, command, content),
      unfinished: () => real?.sessions.unfinished() ?? [],
    },
    get recordingsDir() {
      if (!real) throw new Error('the auth service is not ready');
      return real.recordingsDir;
    },
  };
  return {
    client,
    bind(bound) {
      real = bound;
      bound.onLocksChanged(() => {
        for (const listener of lockListeners) listener();
      });
    },
  };
}
