// What the proxy needs from the auth service, and nothing more: the CAs to
// trust, the current definition of roles, locks, and a place to put audit
// events and session records. In one process it is a direct call; split
// apart it would be HTTPS with the proxy's host certificate. The proxy never
// opens the database.
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
  /** durable: on disk before this returns (security events); otherwise batched. */
  audit(type: AuditEventType, success: boolean, input: AuditInput, durable: boolean): void;
  sessions: {
    start(session: SessionRecord): void;
    update(id: string, patch: Partial<Omit<SessionRecord, 'id'>>): void;
    index(id: string, command: string, content: string): void;
    unfinished(): SessionRecord[];
  };
  /** Where session recordings are written. */
  recordingsDir: string;
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
    audit: (...args) => real?.audit(...args),
    sessions: {
      start: (s) => {
        if (!real) throw new Error('the auth service is not ready');
        real.sessions.start(s);
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
