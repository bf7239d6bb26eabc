// What the proxy needs from the auth service, and nothing more: the CAs to
// trust, the current definition of roles, locks, and a place to put audit
// events and session records. The proxy knows auth only through this
// interface (it never imports @ztsh/auth, never opens the database). Two
// implementations: in one process, auth's own (inProcessAuthClient in
// @ztsh/auth, a thin wrapper over the auth core); with the proxy run apart,
// the proxy's HTTPS client (httpAuthClient in @ztsh/proxy, with the proxy's
// host certificate).
//
// What must be stored before the proxy goes on (a refusal's audit event, a
// session's start) may return a promise: in one process it is already on
// disk and nothing is returned, so the common path stays synchronous.
import type { ProxyEventType } from './internal-api.ts';
import type { AuditInput } from './internal-api.ts';
import type { Role } from './role-schema.ts';
import type { SessionPatch, SessionRecord } from './session-record.ts';

export type MaybePromise<T> = T | Promise<T>;

export interface AuthClient {
  userCaCertificates(): string[];
  hostCaCertificates(): string[];
  /** The roles with these names as they are defined now; unknown names are skipped. */
  roles(names: string[]): Role[];
  /**
   * Why this identity is locked out, or undefined: by its user, one of its
   * roles (own and requested), or one of the access requests its certificate
   * carries. Asked on every request: must be cheap.
   */
  lockFor(user: string, roles: readonly string[], accessRequests?: readonly string[]): { id: string; message: string } | undefined;
  /** Called when a lock is added or removed. */
  onLocksChanged(listener: () => void): () => void;
  /** Why no request can be served now (the proxy has lost touch with auth), or undefined. */
  unavailable(): string | undefined;
  /**
   * durable: stored before this returns or its promise resolves (security
   * events); a rejected promise means it could not be stored yet. Otherwise
   * batched, and a returned promise resolves once the event is stored: the
   * proxy ends an answer only then (its headers and body go out before).
   * It does not reject for a failed write, which is tried again.
   */
  /** Only the events a proxy writes (PROXY_EVENT_TYPES): auth writes the rest itself. */
  audit(type: ProxyEventType, success: boolean, input: AuditInput, durable: boolean): MaybePromise<void>;
  sessions: {
    /** Rejects (or throws) when the session cannot be recorded: it must then not run. */
    start(session: SessionRecord): MaybePromise<void>;
    /** A patch with endedAt says the session is over and its recording complete. */
    update(id: string, patch: SessionPatch): MaybePromise<void>;
    index(id: string, command: string, content: string): MaybePromise<void>;
    /** Sessions this proxy relayed that were never ended (it stopped without closing them). */
    unfinished(): MaybePromise<SessionRecord[]>;
  };
  /**
   * Where recordings go when auth keeps them in its store (several replicas
   * on PostgreSQL): appended in chunks, `seq` counting from 0 per session so
   * a retried chunk is kept once. null: files under recordingsDir.
   */
  readonly recordings: RecordingAppender | null;
  /** Where session recordings are written as files (when `recordings` is null). */
  recordingsDir: string;
}

export interface RecordingAppender {
  /** Rejects (or throws) when the chunk was not stored; the same seq may then be sent again. */
  append(sessionId: string, seq: number, data: Uint8Array): MaybePromise<void>;
}
