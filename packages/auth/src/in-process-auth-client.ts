// The AuthClient of a proxy in the same process as auth: each method is a
// direct call of the auth core (CAs, roles, locks, audit log, session
// store), with nothing else of auth exposed. The proxy holds only the
// AuthClient interface of @ztsh/protocol, the same one it holds when it
// runs apart and talks to auth over HTTPS (/v1/internal/, internal-api.ts).
import { lockMessage, type AuthClient } from '@ztsh/protocol';
import type { AuthService } from './auth-service.ts';

export interface InProcessAuthClientOptions {
  /**
   * The id of this proxy replica. Several replicas share one store: each
   * files its sessions under its own id, so each closes only its own at
   * start, and the others know whose sessions to close when it is lost
   * (lost-sessions.ts). Left out: the one proxy of this store (null).
   */
  replicaId?: string | null;
}

export function inProcessAuthClient(auth: AuthService, options: InProcessAuthClientOptions = {}): AuthClient {
  const { deps, storage } = auth;
  const proxyId = options.replicaId ?? null;
  return {
    userCaCertificates: () => auth.userCa.trustBundle,
    hostCaCertificates: () => auth.hostCa.trustBundle,
    roles: (names) => names.flatMap((n) => deps.roles.get(n) ?? []),
    lockFor: (user, roles, accessRequests) => {
      const lock = deps.locks.lockFor(user, roles, accessRequests);
      return lock ? { id: lock.id, message: lockMessage(lock) } : undefined;
    },
    onLocksChanged: (listener) => deps.locks.subscribe(listener),
    // Nothing to lose touch with in one process.
    unavailable: () => undefined,
    // A queued event's promise is shared by its batch: none is made per allowed kube request.
    audit: (type, success, input, durable) => {
      if (durable) return deps.audit.emit(type, success, input).then(() => undefined);
      return deps.audit.queue(type, success, input);
    },
    sessions: {
      // Stored when these settle: nothing more for the proxy to wait for.
      start: (session) => storage.sessions.insert(session, proxyId),
      update: (id, patch) => storage.sessions.update(id, patch),
      index: (id, command, content) => storage.sessions.index(id, command, content),
      unfinished: () => storage.sessions.unfinished(proxyId),
    },
    // The store's own: chunks go straight in. Read at each session's start, as the storage has it.
    get recordings() {
      return storage.recordings ?? null;
    },
    recordingsDir: auth.recordingsDir,
  };
}
