// Access-request notifications to one configured URL (a Slack or chat
// bridge, a ticket system): each create, approve and deny is POSTed as JSON
// with an HMAC signature over the time and the body
// (protocol's access-request-webhook.ts has the format and the check).
//
//   notify() ──▶ bounded queue ──▶ one delivery at a time ──▶ POST url
//      (returns at once)   (full: the oldest goes)     │ 5xx, 408, 429, network, timeout
//                                                      └─ retry after 1s, 2s, 4s … (capped), then give up
//
// The API answer never waits for the receiver. Deliveries go out in order,
// one at a time, so a receiver sees "created" before "approved". The secret
// and the URL's path and query (where a chat webhook keeps its token) never
// reach the logs: only the URL's origin does.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import {
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  webhookSignatureHeader,
  ZtshError,
  type AccessRequestInfo,
  type AccessRequestWebhookEvent,
} from '@ztsh/protocol';
import { randomIds, systemClock, type Clock, type IdSource } from '../clock.ts';
import { resolveSecret, type SecretContext } from '../secrets.ts';
import type { AccessRequestNotifier } from './notifier.ts';
import type { AccessRequestsConfig } from './webhook-config.ts';

export interface WebhookRetry {
  /** Tries per event, the first included. */
  attempts: number;
  /** Wait before the second try; doubles each time after. */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = { attempts: 8, firstDelayMs: 1000, maxDelayMs: 300_000 };
/** One try's limit, connection to the end of the answer. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Events waiting at most; beyond it the oldest is dropped (a receiver down for long must not grow memory without end). */
export const DEFAULT_WEBHOOK_QUEUE = 1000;
/** The shortest shared secret accepted. */
export const MIN_WEBHOOK_SECRET = 16;

export interface WebhookNotifierOptions {
  url: string | URL;
  secret: string;
  /** PEM trusted for the receiver's TLS, in addition to the system's roots. */
  ca?: string | undefined;
  log: Logger;
  clock?: Clock | undefined;
  ids?: IdSource | undefined;
  retry?: Partial<WebhookRetry> | undefined;
  timeoutMs?: number | undefined;
  maxQueue?: number | undefined;
  /** 0 to 1: spreads retries so several replicas do not hit a recovering receiver at once. */
  random?: (() => number) | undefined;
}

export interface WebhookNotifier extends AccessRequestNotifier {
  /** Resolves once every event queued so far is delivered or given up. */
  idle(): Promise<void>;
  /** Stops: a try in flight is aborted, what still waits is dropped (and logged). */
  close(): Promise<void>;
}

interface Delivery {
  id: string;
  type: AccessRequestWebhookEvent['type'];
  accessRequest: string;
  body: string;
}

type Outcome = { kind: 'delivered'; status: number } | { kind: 'retry'; why: string; retryAfterMs?: number } | { kind: 'refused'; why: string };

export function createWebhookNotifier(options: WebhookNotifierOptions): WebhookNotifier {
  const url = new URL(options.url);
  const target = url.origin;
  const log = options.log.child({ webhook: target });
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? randomIds;
  const retry = { ...DEFAULT_WEBHOOK_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const maxQueue = options.maxQueue ?? DEFAULT_WEBHOOK_QUEUE;
  const random = options.random ?? Math.random;
  const secret = options.secret;
  const dispatcher = new Agent({ connect: { timeout: timeoutMs, ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}) } });
  const stop = new AbortController();
  const queue: Delivery[] = [];
  let running: Promise<void> | undefined;
  let idleWaiters: (() => void)[] = [];

  const kick = () => {
    if (running || stop.signal.aborted) return settle();
    if (queue.length === 0) return settle();
    running = drain().finally(() => {
      running = undefined;
      kick();
    });
  };
  const settle = () => {
    if (running || queue.length) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    waiters.forEach((w) => w());
  };

  async function drain(): Promise<void> {
    for (let next = queue.shift(); next && !stop.signal.aborted; next = queue.shift()) await deliver(next);
  }

  async function deliver(d: Delivery): Promise<void> {
    const about = { delivery: d.id, type: d.type, accessRequest: d.accessRequest };
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      const outcome = await send(d);
      if (stop.signal.aborted) return;
      if (outcome.kind === 'delivered') {
        log.info({ ...about, attempt, status: outcome.status }, 'access request webhook delivered');
        return;
      }
      if (outcome.kind === 'refused') {
        log.error({ ...about, attempt, why: outcome.why }, 'access request webhook refused by the receiver: not retried');
        return;
      }
      if (attempt === retry.attempts) break;
      const backoff = Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** (attempt - 1));
      // Jitter of up to a half down; a receiver's Retry-After is honoured within the cap.
      const delay = Math.min(retry.maxDelayMs, Math.max(backoff * (1 - random() / 2), outcome.retryAfterMs ?? 0));
      log.warn({ ...about, attempt, why: outcome.why, retryInMs: Math.round(delay) }, 'access request webhook failed: will retry');
      await wait(delay);
    }
    if (!stop.signal.aborted) log.error({ ...about, attempts: retry.attempts }, 'access request webhook given up after every retry');
  }

  async function send(d: Delivery): Promise<Outcome> {
    const t = Math.floor(clock.now().getTime() / 1000);
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        body: d.body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'ztsh-webhook/1',
          [WEBHOOK_SIGNATURE_HEADER]: webhookSignatureHeader(secret, t, d.body),
          [WEBHOOK_DELIVERY_HEADER]: d.id,
          [WEBHOOK_EVENT_HEADER]: d.type,
        },
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]),
      });
      // The answer's content is not used; a small read keeps the connection reusable.
      await res.body.dump({ limit: 65_536 }).catch(() => {});
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: 'delivered', status };
      if (status >= 500 || status === 408 || status === 425 || status === 429) {
        const after = retryAfterMs(res.headers['retry-after']);
        return { kind: 'retry', why: `HTTP ${status}`, ...(after !== undefined ? { retryAfterMs: after } : {}) };
      }
      // A redirect is not followed: the signed body would go where the operator did not send it.
      return { kind: 'refused', why: status < 400 ? `HTTP ${status} (redirects are not followed: configure the final URL)` : `HTTP ${status}` };
    } catch (err) {
      // The code and message only: an error object may carry the request's options.
      const e = err as { code?: string; name?: string; message?: string };
      return { kind: 'retry', why: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${e.code ?? e.name ?? 'error'}: ${String(e.message ?? '').slice(0, 200)}` };
    }
  }

  function wait(ms: number): Promise<void> {
    return new Promise((done) => {
      const finish = () => {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      timer.unref();
      stop.signal.addEventListener('abort', finish, { once: true });
    });
  }

  return {
    notify(kind, info) {
      try {
        if (stop.signal.aborted) return;
        const event: AccessRequestWebhookEvent = { id: ids.id(), type: `access_request.${kind}`, time: clock.now().toISOString(), request: info };
        if (queue.length >= maxQueue) {
          const dropped = queue.shift()!;
          log.error({ delivery: dropped.id, type: dropped.type, accessRequest: dropped.accessRequest, queued: maxQueue }, 'access request webhook queue full: the oldest event is dropped');
        }
        queue.push({ id: event.id, type: event.type, accessRequest: info.id, body: JSON.stringify(event) });
        kick();
      } catch (err) {
        // A notification must never fail the step it tells about.
        log.error({ err: { message: (err as Error).message }, accessRequest: info?.id }, 'cannot queue an access request webhook');
      }
    },
    idle: () =>
      new Promise<void>((done) => {
        idleWaiters.push(done);
        settle();
      }),
    async close() {
      if (queue.length) log.warn({ dropped: queue.length }, 'access request webhooks not delivered before shutdown');
      queue.length = 0;
      stop.abort();
      await running;
      settle();
      await dispatcher.close().catch(() => {});
    },
  };
}

/** Retry-After in seconds (the HTTP-date form is rare from webhooks and is not read). */
function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text && /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) * 1000 : undefined;
}

export interface WebhookFromConfig {
  secrets: SecretContext;
  log: Logger;
  clock?: Clock | undefined;
  ids?: IdSource | undefined;
}

/**
 * The notifier `auth.access_requests.webhook` describes, checked at start:
 * the secret is there and long enough, the CA file reads. Undefined when no
 * webhook is configured.
 */
export function webhookFromConfig(config: AccessRequestsConfig | undefined, context: WebhookFromConfig): WebhookNotifier | undefined {
  const webhook = config?.webhook;
  if (!webhook) return undefined;
  const where = 'auth.access_requests.webhook';
  const [source, key] = webhook.secret_file !== undefined ? ([{ file: webhook.secret_file }, 'secret_file'] as const) : ([{ env: webhook.secret_env! }, 'secret_env'] as const);
  const secret = resolveSecret(source, `${where}.${key}`, context.secrets);
  if (secret.length < MIN_WEBHOOK_SECRET) {
    throw new ZtshError('invalid_config', `${where}.${key}: the shared secret is shorter than ${MIN_WEBHOOK_SECRET} characters`, {
      hint: 'make one with: openssl rand -hex 32',
    });
  }
  let ca: string | undefined;
  if (webhook.ca_file) {
    const path = resolve(context.secrets.baseDir, webhook.ca_file);
    try {
      ca = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ZtshError('invalid_config', `${where}.ca_file: cannot read ${path}`, { cause });
    }
  }
  return createWebhookNotifier({ url: webhook.url, secret, ca, log: context.log, clock: context.clock, ids: context.ids });
}
