// A proxy run apart from auth keeps a copy of auth's state in memory: the
// CA bundles, the roles as defined now and the locks in force. Each kube
// request is checked against the copy, so checks cost no round trip and a
// lock reaches the live streams as soon as its state arrives. The copy is
// fed by the watch (http-auth-client.ts); when the watch has been quiet for
// STALE_MS the proxy cannot know of new locks and refuses requests.
import { lockApplies, lockMessage, RoleSchema, WATCH_HEARTBEAT_MS, type AuthClient, type ProxyState, type Role } from '@ztsh/protocol';

/** Requests are refused when auth has not been heard from for this long. */
export const STALE_MS = 3 * WATCH_HEARTBEAT_MS;

export interface StateMirror extends Pick<AuthClient, 'userCaCertificates' | 'hostCaCertificates' | 'roles' | 'lockFor' | 'onLocksChanged' | 'unavailable'> {
  /** A whole new state from auth; throws (and keeps the old one) when a role does not parse. */
  apply(state: ProxyState): void;
  /** A heartbeat: auth is there and nothing changed. */
  heard(): void;
  /** Why the watch is down, for the refusals until it is back. */
  lost(problem: string): void;
  /** Why auth could not be reached last, or "not connected yet". */
  readonly problem: string;
  /** Resolves at the first state. */
  readonly first: Promise<void>;
}

export function createStateMirror(now: () => number): StateMirror {
  let state: { raw: ProxyState; roles: Map<string, Role>; locksJson: string } | undefined;
  let heardAt = 0;
  let problem = 'not connected yet';
  const lockListeners = new Set<() => void>();
  let arrived: () => void = () => undefined;
  const first = new Promise<void>((resolve) => (arrived = resolve));
  return {
    apply(raw) {
      const roles = new Map<string, Role>();
      for (const value of raw.roles) {
        const role = RoleSchema.parse(value);
        roles.set(role.metadata.name, role);
      }
      const locksJson = JSON.stringify(raw.locks);
      const locksChanged = state !== undefined && state.locksJson !== locksJson;
      state = { raw, roles, locksJson };
      heardAt = now();
      arrived();
      if (locksChanged) for (const listener of lockListeners) listener();
    },
    heard() {
      heardAt = now();
    },
    lost(why) {
      problem = why;
    },
    get problem() {
      return problem;
    },
    first,
    userCaCertificates: () => state?.raw.userCaCertificates ?? [],
    hostCaCertificates: () => state?.raw.hostCaCertificates ?? [],
    roles: (names) => names.flatMap((n) => state?.roles.get(n) ?? []),
    lockFor: (user, roles, accessRequests) => {
      if (!state || state.raw.locks.length === 0) return undefined;
      const at = now();
      const lock = state.raw.locks.find((l) => lockApplies(l, user, roles, at, accessRequests));
      return lock ? { id: lock.id, message: lockMessage(lock) } : undefined;
    },
    onLocksChanged: (listener) => {
      lockListeners.add(listener);
      return () => lockListeners.delete(listener);
    },
    unavailable: () => {
      if (!state) return `the proxy has not reached the auth service yet (${problem}); try again shortly`;
      const quiet = now() - heardAt;
      if (quiet > STALE_MS) return `the proxy has lost touch with the auth service for ${Math.round(quiet / 1000)} s (${problem}); try again shortly`;
      return undefined;
    },
  };
}
