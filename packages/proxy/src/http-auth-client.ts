// The AuthClient of a proxy that runs apart from auth: HTTPS to the auth
// service's /v1/internal/ routes with the proxy's host certificate. Its
// three jobs are each in a file of their own; this one holds the transport
// and puts them together:
//
// - CAs, roles and locks: the state mirror (auth-state-mirror.ts), fed by
//   the watch opened here (the whole state at once, again after each lock
//   change, and a heartbeat every few seconds).
// - Audit events: the outbox (audit-outbox.ts), batched, retried, in order.
// - Sessions: start, end and search text go to auth; recordings are written
//   in the proxy's own data dir and handed to auth whole when the session
//   ends (recording-handover.ts), or, when auth says it keeps recordings in
//   its store, appended in chunks while the session runs (store-sink.ts).
import type { ReadStream } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { JoinResponse, SessionsResponse, WATCH_HEARTBEAT_MS, WatchLine, ZtshError, type AuthClient } from '@ztsh/protocol';
import { createAuditOutbox } from './audit-outbox.ts';
import { createStateMirror } from './auth-state-mirror.ts';
import { persistently } from './persistently.ts';
import { recordingHandover } from './recording-handover.ts';

export { STALE_MS } from './auth-state-mirror.ts';
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
  /** Counts failed hand-overs of audit batches (metrics.ts). */
  metrics?: { auditWriteError(): void } | undefined;
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
  /** Audit events waiting in the outbox for auth (the audit queue depth metric). */
  auditPending(): number;
  close(): Promise<void>;
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

  // --- state: CAs, roles, locks, from the watch ------------------------------
  const mirror = createStateMirror(now);
  let recordingsInStore = false;
  let watchReq: ReturnType<typeof request> | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoff = 250;

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
      mirror.lost(problem);
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
            if ('state' in parsed) {
              mirror.apply(parsed.state);
              recordingsInStore = parsed.state.recordingsInStore === true;
            } else mirror.heard();
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

  // --- audit -------------------------------------------------------------------
  const outbox = createAuditOutbox({
    send: async (events) => {
      try {
        await call('POST', '/v1/internal/audit', { events });
      } catch (error) {
        options.metrics?.auditWriteError();
        throw error;
      }
    },
    log,
  });

  // --- sessions and recordings ---------------------------------------------------
  const retry = { stopped: () => closed };
  const recordings = recordingHandover({
    dir: options.recordingsDir,
    upload: (id, file, size) => upload(id, file, size),
    log,
    retry,
  });

  function upload(id: string, file: ReadStream, size: number): Promise<void> {
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
      file.on('error', (error) => req.destroy(error));
      file.pipe(req);
    });
  }

  /** One chunk of a recording; the store sink sends it again (same seq) when this rejects. */
  function appendChunk(id: string, seq: number, data: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = request(new URL(`/v1/internal/sessions/${encodeURIComponent(id)}/recording/${seq}`, base), {
        method: 'PUT',
        agent,
        timeout: CALL_TIMEOUT_MS,
        headers: { 'content-type': 'application/octet-stream', 'content-length': data.length },
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from the auth service in ${CALL_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.on('response', (res) => readReply(res).then((reply) => (reply.status < 300 ? resolve() : reject(replyError('PUT', 'recording chunk', reply))), reject));
      req.end(data);
    });
  }
  const storeAppender = { append: appendChunk };

  const client: HttpAuthClient = {
    userCaCertificates: mirror.userCaCertificates,
    hostCaCertificates: mirror.hostCaCertificates,
    roles: mirror.roles,
    lockFor: mirror.lockFor,
    onLocksChanged: mirror.onLocksChanged,
    unavailable: mirror.unavailable,
    audit: (type, success, input, durable) => outbox.add({ type, success, durable, input: { ...input, user: input.user ?? null } }),
    sessions: {
      start: async (session) => {
        if (session.recordingPath) recordings.remember(session.id, session.recordingPath);
        await call('POST', '/v1/internal/sessions', session);
      },
      update: async (id, patch) => {
        if (patch.endedAt != null) await recordings.sessionEnded(id);
        await persistently('recording a session', () => call('PATCH', `/v1/internal/sessions/${encodeURIComponent(id)}`, patch), { ...retry, log });
      },
      index: async (id, command, content) => {
        await persistently('indexing a session', () => call('PUT', `/v1/internal/sessions/${encodeURIComponent(id)}/text`, { command, content }), { ...retry, log });
      },
      unfinished: async () => {
        const { sessions } = SessionsResponse.parse(await call('GET', '/v1/internal/sessions/unfinished'));
        for (const s of sessions) if (s.recordingPath) recordings.remember(s.id, s.recordingPath);
        return sessions;
      },
    },
    recordingsDir: options.recordingsDir,
    get recordings() {
      return recordingsInStore ? storeAppender : null;
    },

    ready: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ZtshError('unavailable', `cannot reach the auth service at ${base.origin}: ${mirror.problem}`, {
                hint: 'check proxy.auth_server and proxy.auth_ca_file, and that auth runs with services: [auth]',
              }),
            ),
          timeoutMs,
        );
      });
      try {
        await Promise.race([mirror.first, timeout]);
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
    handOverLeftovers: () => recordings.leftovers(),
    auditPending: () => outbox.pending(),
    close: async () => {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(watchTimer);
      watchReq?.destroy();
      watchReq = undefined;
      const lost = await outbox.close();
      if (lost > 0) log.error({ lost }, 'audit events could not be sent to the auth service before the proxy stopped');
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
