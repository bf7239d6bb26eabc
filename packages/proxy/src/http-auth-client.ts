// The AuthClient of a proxy that runs apart from auth: HTTPS to the auth
// service's /v1/internal/ routes with the proxy's host certificate.
//
// - CAs, roles and locks: a copy kept in memory from a watch that auth
//   streams (the whole state at once, again after each lock change, and a
//   heartbeat every few seconds). Requests are checked against the copy, so
//   a lock reaches live streams as soon as auth sends it. Without a heartbeat
//   for STALE_MS the proxy refuses requests until the watch is back.
// - Audit events: batched every AUDIT_FLUSH_MS; security events are sent at
//   once and the caller waits for auth's answer. Events that cannot be sent
//   stay queued and are sent again.
// - Sessions: start, end and search text go to auth; recordings are written
//   here, in the proxy's own data dir, and handed to auth whole when the
//   session ends (or, after a crash, when the proxy starts again).
import { createReadStream, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuditBatch, type AuditEventType, type AuditInput, type AuthClient, JoinResponse, lockApplies, lockMessage, type ProxyState, type Role, RoleSchema, type SessionRecord, SessionsResponse, WATCH_HEARTBEAT_MS, WatchLine, ZtshError } from '@ztsh/protocol';

/** Requests are refused when auth has not been heard from for this long. */
export const STALE_MS = 3 * WATCH_HEARTBEAT_MS;
const AUDIT_FLUSH_MS = 100;
const AUDIT_BATCH = 5_000;
/** Events kept while auth cannot be reached; beyond this the oldest are dropped (and logged). */
const AUDIT_QUEUE_CAP = 200_000;
const CALL_TIMEOUT_MS = 10_000;

export interface HostCredentials {
  cert: string;
  key: string;
}

export interface HttpAuthClientOptions {
  /** https://auth.internal:3025 */
  server: URL;
  /** PEM bundle for auth's serving certificate; undefined: the system's roots. */
  ca: string | undefined;
  credentials: HostCredentials;
  /** The proxy's own folder for recordings in progress. */
  recordingsDir: string;
  log: Logger;
  now?: () => number;
}

export interface HttpAuthClient extends AuthClient {
  /** Waits for the first state from auth; rejects with why auth cannot be reached. */
  ready(timeoutMs: number): Promise<void>;
  /** A renewed host certificate: used for every connection from now on. */
  setCredentials(credentials: HostCredentials): void;
  /** For forwarding user requests to auth: an HTTPS request with the proxy's certificate. */
  forward(options: RequestOptions): ReturnType<typeof request>;
  /** A new host certificate for this public key (the proxy renews before its certificate runs out). */
  renew(publicKey: string): Promise<JoinResponse>;
  /** Hands over recordings left in the proxy's folder by sessions that ended while auth was away. */
  handOverLeftovers(): Promise<void>;
  close(): Promise<void>;
}

interface Queued {
  event: AuditBatch['events'][number];
  settle?: { resolve: () => void; reject: (error: unknown) => void };
}

export interface Reply {
  status: number;
  body: unknown;
}

export function httpAuthClient(options: HttpAuthClientOptions): HttpAuthClient {
  const { log } = options;
  const now = options.now ?? Date.now;
  const base = options.server;
  const host = base.hostname.replace(/^\[|\]$/g, '');
  const serverName = isIP(host) ? '' : host;
  let agent = newAgent(options.credentials);
  let closed = false;

  function newAgent(credentials: HostCredentials): Agent {
    return new Agent({ keepAlive: true, cert: credentials.cert, key: credentials.key, ...(options.ca ? { ca: options.ca } : {}), maxSockets: 16 });
  }

  function send(method: string, path: string, body?: unknown, extra: RequestOptions = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(new URL(path, base), {
        method,
        agent,
        timeout: CALL_TIMEOUT_MS,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        ...extra,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from the auth service in ${CALL_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.on('response', (res) => readReply(res).then(resolve, reject));
      req.end(payload);
    });
  }

  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const reply = await send(method, path, body);
    if (reply.status >= 300) throw replyError(method, path, reply);
    return reply.body;
  }

  // --- state: CAs, roles, locks -------------------------------------------
  let state: { raw: ProxyState; roles: Map<string, Role>; locksJson: string } | undefined;
  let heardAt = 0;
  let lastProblem = 'not connected yet';
  const lockListeners = new Set<() => void>();
  const firstState: { resolve?: () => void; promise: Promise<void> } = { promise: Promise.resolve() };
  firstState.promise = new Promise((resolve) => (firstState.resolve = resolve));
  let watchReq: ReturnType<typeof request> | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoff = 250;

  function applyState(raw: ProxyState): void {
    const roles = new Map<string, Role>();
    for (const value of raw.roles) {
      const role = RoleSchema.parse(value);
      roles.set(role.metadata.name, role);
    }
    const locksJson = JSON.stringify(raw.locks);
    const locksChanged = state !== undefined && state.locksJson !== locksJson;
    state = { raw, roles, locksJson };
    heardAt = now();
    firstState.resolve?.();
    if (locksChanged) for (const listener of lockListeners) listener();
  }

  function watch(): void {
    if (closed) return;
    const req = request(new URL('/v1/internal/watch', base), { agent, headers: { accept: 'application/x-ndjson' } });
    watchReq = req;
    let buffered = '';
    const again = (problem: string) => {
      if (watchReq !== req) return;
      watchReq = undefined;
      clearTimeout(watchTimer);
      req.destroy();
      lastProblem = problem;
      if (closed) return;
      log.warn({ problem, retryInMs: backoff }, 'the watch on the auth service ended');
      retryTimer = setTimeout(watch, backoff * (0.5 + Math.random()));
      backoff = Math.min(backoff * 2, 5_000);
    };
    // A link that went quiet (a half-open TCP connection) is noticed here.
    const arm = () => {
      clearTimeout(watchTimer);
      watchTimer = setTimeout(() => again(`no heartbeat from the auth service for ${(2 * WATCH_HEARTBEAT_MS) / 1000} s`), 2 * WATCH_HEARTBEAT_MS);
    };
    arm();
    req.on('error', (error) => again(error.message));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        void readReply(res).then((reply) => again(replyError('GET', '/v1/internal/watch', reply).message), (error: Error) => again(error.message));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        arm();
        buffered += chunk;
        let at: number;
        while ((at = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, at);
          buffered = buffered.slice(at + 1);
          try {
            const parsed = WatchLine.parse(JSON.parse(line));
            if ('state' in parsed) applyState(parsed.state);
            else heardAt = now();
            backoff = 250;
          } catch (error) {
            log.error({ err: error }, 'the auth service sent a watch line this proxy does not understand');
          }
        }
      });
      res.on('end', () => again('the auth service ended the watch'));
      res.on('error', (error) => again(error.message));
    });
    req.end();
  }

  // --- audit ----------------------------------------------------------------
  let queue: Queued[] = [];
  let flushing = false;
  let flushAgain = false;
  let flushTimer: NodeJS.Timeout | undefined;
  let auditBackoff = 0;

  function scheduleFlush(ms: number): void {
    if (flushTimer || closed) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flushAudit();
    }, ms);
  }

  let inFlight: Promise<void> = Promise.resolve();

  function flushAudit(): Promise<void> {
    if (flushing) {
      flushAgain = true;
      return inFlight;
    }
    inFlight = sendQueued();
    return inFlight;
  }

  async function sendQueued(): Promise<void> {
    if (queue.length === 0) return;
    flushing = true;
    const batch = queue.slice(0, AUDIT_BATCH);
    queue = queue.slice(batch.length);
    try {
      await call('POST', '/v1/internal/audit', { events: batch.map((q) => q.event) });
      auditBackoff = 0;
      for (const q of batch) q.settle?.resolve();
    } catch (error) {
      // Kept, in order, for the next try; whoever waits learns it is not stored yet.
      for (const q of batch) {
        q.settle?.reject(error);
        delete q.settle;
      }
      queue = batch.concat(queue);
      if (queue.length > AUDIT_QUEUE_CAP) {
        const dropped = queue.length - AUDIT_QUEUE_CAP;
        queue = queue.slice(dropped);
        log.error({ dropped }, 'audit events dropped: the auth service has been out of reach too long');
      }
      auditBackoff = Math.min(Math.max(auditBackoff * 2, 500), 10_000);
      log.warn({ err: error, queued: queue.length }, 'audit events not sent yet; trying again');
    } finally {
      flushing = false;
    }
    if (flushAgain || (queue.length > 0 && auditBackoff === 0)) {
      flushAgain = false;
      void flushAudit();
    } else if (queue.length > 0) scheduleFlush(auditBackoff);
  }

  // --- sessions and recordings ------------------------------------------------
  const recordingOf = new Map<string, string>();

  function handOver(id: string, relative: string): Promise<void> {
    const path = join(options.recordingsDir, relative);
    if (!existsSync(path)) return Promise.resolve();
    const size = statSync(path).size;
    return new Promise<void>((resolve, reject) => {
      const req = request(new URL(`/v1/internal/sessions/${encodeURIComponent(id)}/recording`, base), {
        method: 'PUT',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      });
      req.on('error', reject);
      req.on('response', (res) =>
        readReply(res).then((reply) => (reply.status < 300 ? resolve() : reject(replyError('PUT', 'recording', reply))), reject),
      );
      const file = createReadStream(path);
      file.on('error', (error) => req.destroy(error));
      file.pipe(req);
    }).then(() => {
      rmSync(path, { force: true });
      recordingOf.delete(id);
    });
  }

  /** Tries a few times over about half a minute: a session's end must reach auth. */
  async function persistently(what: string, fn: () => Promise<unknown>): Promise<void> {
    let wait = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        return;
      } catch (error) {
        if (attempt >= 6 || closed) throw error;
        log.warn({ err: error, attempt }, `${what} failed; trying again`);
        await new Promise((r) => setTimeout(r, wait));
        wait *= 2;
      }
    }
  }

  const client: HttpAuthClient = {
    userCaCertificates: () => state?.raw.userCaCertificates ?? [],
    hostCaCertificates: () => state?.raw.hostCaCertificates ?? [],
    roles: (names) => names.flatMap((n) => state?.roles.get(n) ?? []),
    lockFor: (user, roles) => {
      if (!state || state.raw.locks.length === 0) return undefined;
      const at = now();
      const lock = state.raw.locks.find((l) => lockApplies(l, user, roles, at));
      return lock ? { id: lock.id, message: lockMessage(lock) } : undefined;
    },
    onLocksChanged: (listener) => {
      lockListeners.add(listener);
      return () => lockListeners.delete(listener);
    },
    unavailable: () => {
      if (!state) return `the proxy has not reached the auth service yet (${lastProblem}); try again shortly`;
      const quiet = now() - heardAt;
      if (quiet > STALE_MS) return `the proxy has lost touch with the auth service for ${Math.round(quiet / 1000)} s (${lastProblem}); try again shortly`;
      return undefined;
    },
    audit: (type: AuditEventType, success: boolean, input: AuditInput, durable: boolean) => {
      const event = { type, success, durable, input: { ...input, user: input.user ?? null } };
      if (!durable) {
        queue.push({ event });
        if (queue.length >= AUDIT_BATCH) void flushAudit();
        else scheduleFlush(auditBackoff || AUDIT_FLUSH_MS);
        return;
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, settle: { resolve, reject } });
        void flushAudit();
      });
    },
    sessions: {
      start: async (session) => {
        if (session.recordingPath) recordingOf.set(session.id, session.recordingPath);
        await call('POST', '/v1/internal/sessions', session);
      },
      update: async (id, patch) => {
        const relative = recordingOf.get(id);
        if (patch.endedAt != null && relative) {
          try {
            await persistently('handing over a recording', () => handOver(id, relative));
          } catch (error) {
            log.error({ err: error, sessionId: id }, 'the recording stays in the proxy until it can be handed over');
          }
        }
        await persistently('recording a session', () => call('PATCH', `/v1/internal/sessions/${encodeURIComponent(id)}`, patch));
      },
      index: async (id, command, content) => {
        await persistently('indexing a session', () => call('PUT', `/v1/internal/sessions/${encodeURIComponent(id)}/text`, { command, content }));
      },
      unfinished: async () => {
        const { sessions } = SessionsResponse.parse(await call('GET', '/v1/internal/sessions/unfinished'));
        for (const s of sessions) if (s.recordingPath) recordingOf.set(s.id, s.recordingPath);
        return sessions as SessionRecord[];
      },
    },
    recordingsDir: options.recordingsDir,

    ready: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ZtshError('unavailable', `cannot reach the auth service at ${base.origin}: ${lastProblem}`, {
                hint: 'check proxy.auth_server and proxy.auth_ca_file, and that auth runs with services: [auth]',
              }),
            ),
          timeoutMs,
        );
      });
      try {
        await Promise.race([firstState.promise, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    setCredentials: (credentials) => {
      const old = agent;
      agent = newAgent(credentials);
      setTimeout(() => old.destroy(), 60_000).unref();
    },
    // The Host header is the user's; the TLS name must be auth's own.
    forward: (requestOptions) => request(base, { ...requestOptions, agent, servername: serverName }),
    renew: async (publicKey) => JoinResponse.parse(await call('POST', '/v1/internal/renew', { publicKey })),
    handOverLeftovers: async () => {
      if (!existsSync(options.recordingsDir)) return;
      for (const day of readdirSync(options.recordingsDir)) {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
        for (const name of readdirSync(join(options.recordingsDir, day))) {
          const m = /^([0-9a-f-]{36})\.cast$/.exec(name);
          if (!m) continue;
          try {
            await handOver(m[1]!, `${day}/${name}`);
            log.info({ sessionId: m[1] }, 'handed over a recording left from before');
          } catch (error) {
            log.warn({ err: error, sessionId: m[1] }, 'a recording left from before could not be handed over yet');
          }
        }
      }
    },
    close: async () => {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(watchTimer);
      clearTimeout(flushTimer);
      watchReq?.destroy();
      watchReq = undefined;
      // What is queued goes out before the connections close: wait for a
      // send under way, then send the rest once.
      await inFlight.catch(() => undefined);
      if (queue.length > 0) await flushAudit().catch(() => undefined);
      if (queue.length > 0) log.error({ lost: queue.length }, 'audit events could not be sent to the auth service before the proxy stopped');
      agent.destroy();
    },
  };
  watch();
  return client;
}

/** A whole answer: its status, and its body parsed when it is JSON. */
export async function readReply(res: IncomingMessage): Promise<Reply> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  if (text && String(res.headers['content-type'] ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.statusCode ?? 0, body };
}

function replyError(method: string, path: string, reply: Reply): ZtshError {
  const error = (reply.body as { error?: { message?: string; hint?: string } } | undefined)?.error;
  return new ZtshError(reply.status === 401 || reply.status === 403 ? 'access_denied' : 'bad_gateway', `the auth service answered ${method} ${path} with ${reply.status}${error?.message ? `: ${error.message}` : ''}`, {
    ...(error?.hint ? { hint: error.hint } : {}),
  });
}
