// Access-request webhook notifications against real local receivers (HTTP on
// loopback, and HTTPS with the receiver's CA given as ca_file): signed
// deliveries in order, retries with backoff after failures and timeouts, a
// bounded queue, and the API's step never waiting for the receiver.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessRequestsConfigSchema, webhookFromConfig, createWebhookNotifier, type WebhookNotifier } from '@ztsh/auth';
import { AccessRequestWebhookEvent, type AccessRequestInfo, type AuditEvent } from '@ztsh/protocol';
import { ACCESS_REQUEST_ROLES } from './helpers/access-request-roles.ts';
import { startTestStack } from './helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials } from './security/helpers/raw-client.ts';
import { createSelfSignedTls } from '../packages/server/src/self-signed-tls.ts';
import { capturedLog, sampleRequest, startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const SECRET = 'whsec-4b1d9e0c7a2f48e6b3d5c1a09f8e7d6c';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(options: Parameters<typeof startWebhookReceiver>[0]): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

function track(n: WebhookNotifier): WebhookNotifier {
  cleanups.push(() => n.close());
  return n;
}

/** A config directory with the secret in a 0600 file, as an operator would keep it. */
function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-webhook-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'webhook.secret'), SECRET + '\n');
  chmodSync(join(dir, 'webhook.secret'), 0o600);
  return dir;
}

const FAST = { attempts: 5, firstDelayMs: 20, maxDelayMs: 200 };

describe('access request webhook', () => {
  it('POSTs create and approve, signed, in order, from the configured secret file', async () => {
    const r = await receiver({ secret: SECRET });
    const dir = configDir();
    const config = AccessRequestsConfigSchema.parse({ webhook: { url: r.url, secret_file: 'webhook.secret' } });
    const { log } = capturedLog();
    const notifier = track(webhookFromConfig(config, { secrets: { env: {}, baseDir: dir }, log })!);

    const approved = sampleRequest({ state: 'approved', accessUntil: '2026-11-30T15:00:00.000Z', reviews: [{ reviewer: 'bob', decision: 'approve', reason: 'ok', at: '2026-11-30T14:00:00.000Z' }] });
    notifier.notify('created', sampleRequest());
    notifier.notify('approved', approved);
    const got = await r.received(2);

    expect(got.map((d) => d.verdict.ok)).toEqual([true, true]);
    const events = got.map((d) => AccessRequestWebhookEvent.parse(JSON.parse(d.body)));
    expect(events.map((e) => e.type)).toEqual(['access_request.created', 'access_request.approved']);
    expect(events[0]!.request).toEqual(sampleRequest());
    expect(events[1]!.request).toEqual(approved);
    for (const [i, d] of got.entries()) {
      expect(d.headers['content-type']).toBe('application/json');
      expect(d.headers['x-ztsh-delivery']).toBe(events[i]!.id);
      expect(d.headers['x-ztsh-event']).toBe(events[i]!.type);
      expect(String(d.headers['x-ztsh-signature'])).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    }
    expect(events[0]!.id).not.toBe(events[1]!.id);
    await notifier.idle();
  });

  it('retries a receiver that fails twice, with the same delivery id and a fresh valid signature, then stops', async () => {
    const r = await receiver({ secret: SECRET, answer: (n) => (n < 2 ? 503 : 200) });
    const { log, lines } = capturedLog();
    const notifier = track(createWebhookNotifier({ url: r.url, secret: SECRET, log, retry: FAST }));
    notifier.notify('denied', sampleRequest({ state: 'denied' }));
    await notifier.idle();

    expect(r.deliveries.map((d) => d.status)).toEqual([503, 503, 200]);
    expect(r.deliveries.every((d) => d.verdict.ok)).toBe(true);
    expect(new Set(r.deliveries.map((d) => d.headers['x-ztsh-delivery'])).size).toBe(1);
    expect(new Set(r.deliveries.map((d) => d.body)).size).toBe(1);
    expect(JSON.parse(r.deliveries[0]!.body).type).toBe('access_request.denied');
    const logged = lines();
    expect(logged.match(/will retry/g)).toHaveLength(2);
    expect(logged).toContain('access request webhook delivered');
  });

  it('retries after a timeout and after a refused connection, and gives up after the last try', async () => {
    const r = await receiver({ secret: SECRET, answer: (n) => (n === 0 ? 'hang' : 204) });
    const { log } = capturedLog();
    const notifier = track(createWebhookNotifier({ url: r.url, secret: SECRET, log, retry: FAST, timeoutMs: 300 }));
    notifier.notify('created', sampleRequest());
    await notifier.idle();
    expect(r.deliveries).toHaveLength(2);
    expect(r.deliveries[1]!.status).toBe(204);

    // Nobody listens: every try fails, then it is given up, and the notifier is idle again.
    const gone = await startWebhookReceiver({ secret: SECRET });
    await gone.close();
    const down = capturedLog();
    const lost = track(createWebhookNotifier({ url: gone.url, secret: SECRET, log: down.log, retry: { ...FAST, attempts: 3 } }));
    lost.notify('created', sampleRequest());
    await lost.idle();
    expect(down.lines().match(/will retry/g)).toHaveLength(2);
    expect(down.lines()).toContain('given up after every retry');
    expect(down.lines()).toContain('ECONNREFUSED');
  });

  it('does not retry a 4xx the receiver means, nor follow a redirect', async () => {
    const r = await receiver({
      secret: SECRET,
      answer: (n, res) => {
        if (n === 0) return 401;
        res.setHeader('location', 'http://127.0.0.1:9/elsewhere');
        return 302;
      },
    });
    const { log, lines } = capturedLog();
    const notifier = track(createWebhookNotifier({ url: r.url, secret: SECRET, log, retry: FAST }));
    notifier.notify('created', sampleRequest());
    notifier.notify('approved', sampleRequest({ state: 'approved' }));
    await notifier.idle();
    expect(r.deliveries.map((d) => d.status)).toEqual([401, 302]);
    expect(lines()).toContain('redirects are not followed');
  });

  it('retries a 429 no sooner than its Retry-After allows, within the cap', async () => {
    const r = await receiver({
      secret: SECRET,
      answer: (n, res) => {
        if (n > 0) return 200;
        res.setHeader('retry-after', '1');
        return 429;
      },
    });
    const { log, lines } = capturedLog();
    const notifier = track(createWebhookNotifier({ url: r.url, secret: SECRET, log, retry: { attempts: 3, firstDelayMs: 10, maxDelayMs: 5000 } }));
    notifier.notify('created', sampleRequest());
    await notifier.idle();
    expect(r.deliveries.map((d) => d.status)).toEqual([429, 200]);
    // The planned wait is logged: the receiver's second, not the 10 ms backoff.
    expect(JSON.parse(lines().split('\n').find((l) => l.includes('will retry'))!).retryInMs).toBe(1000);
  });

  it('never makes notify wait for the receiver, and keeps only the newest events when the queue is full', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const r = await receiver({ secret: SECRET, answer: async () => (await gate, 204) });
    const { log, lines } = capturedLog();
    const notifier = track(createWebhookNotifier({ url: r.url, secret: SECRET, log, retry: FAST, maxQueue: 2 }));

    notifier.notify('created', sampleRequest({ id: 'req1' }));
    // The first is in the receiver's hands, unanswered; notify still returns at once.
    await r.received(1);
    for (const id of ['req2', 'req3', 'req4', 'req5']) notifier.notify('created', sampleRequest({ id }));
    expect(r.deliveries).toHaveLength(1);
    open();
    await notifier.idle();

    expect(r.deliveries.map((d) => JSON.parse(d.body).request.id)).toEqual(['req1', 'req4', 'req5']);
    expect(lines().match(/queue full/g)).toHaveLength(2);
  });

  it('trusts the receiver CA given as ca_file for an https URL, and refuses an unknown CA', async () => {
    const tls = await createSelfSignedTls({ hostnames: ['127.0.0.1'] });
    const r = await receiver({ secret: SECRET, tls: { cert: tls.cert, key: tls.key } });
    const dir = configDir();
    writeFileSync(join(dir, 'receiver-ca.pem'), tls.caCert);
    const config = AccessRequestsConfigSchema.parse({ webhook: { url: r.url, secret_env: 'ZTSH_WEBHOOK_SECRET', ca_file: 'receiver-ca.pem' } });
    const { log } = capturedLog();
    const notifier = track(webhookFromConfig(config, { secrets: { env: { ZTSH_WEBHOOK_SECRET: SECRET }, baseDir: dir }, log })!);
    notifier.notify('approved', sampleRequest({ state: 'approved' }));
    const [got] = await r.received(1);
    expect(got!.verdict.ok).toBe(true);

    // Without the CA, the receiver's certificate is not trusted: nothing is delivered.
    const untrusting = capturedLog();
    const blind = track(createWebhookNotifier({ url: r.url, secret: SECRET, log: untrusting.log, retry: { ...FAST, attempts: 2 } }));
    blind.notify('approved', sampleRequest({ state: 'approved' }));
    await blind.idle();
    expect(r.deliveries).toHaveLength(1);
    expect(untrusting.lines()).toContain('given up after every retry');
  });
});

describe('access request webhook from a running ztshd', () => {
  it('tells the receiver of create, approve and deny as they happen through the API, and the audit finds each request', async () => {
    const r = await receiver({ secret: SECRET });
    const stack = await startTestStack({
      roles: ACCESS_REQUEST_ROLES,
      auth: { access_requests: { webhook: { url: r.url, secret_env: 'ZTSH_WEBHOOK_SECRET' } } },
      env: { ZTSH_WEBHOOK_SECRET: SECRET },
    });
    cleanups.push(() => stack.close());
    const target = { url: stack.url, tlsCa: stack.tlsCa };
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => credentialsOf(target, u as 'alice')));
    const call = async (as: Credentials, method: string, path: string, body?: unknown) => {
      const res = await rawRequest(target, { method, path, as, ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }) });
      return { status: res.status, json: res.json() };
    };

    const asked = await call(alice!, 'POST', '/v1/access-requests', { roles: ['prod-admin'], reason: 'INC-42: payments stuck', duration: '1h' });
    expect(asked.status).toBe(201);
    const request = asked.json as AccessRequestInfo;
    const [created] = await r.received(1);
    expect(created!.verdict.ok).toBe(true);
    expect(AccessRequestWebhookEvent.parse(JSON.parse(created!.body))).toMatchObject({ type: 'access_request.created', request: { id: request.id, user: 'alice', state: 'pending', reason: 'INC-42: payments stuck' } });

    expect((await call(bob!, 'POST', `/v1/access-requests/${request.id}/reviews`, { decision: 'approve', reason: 'go ahead' })).status).toBe(200);
    const other = (await call(alice!, 'POST', '/v1/access-requests', { roles: ['prod-admin'], reason: 'just curious' })).json as AccessRequestInfo;
    expect((await call(bob!, 'POST', `/v1/access-requests/${other.id}/reviews`, { decision: 'deny', reason: 'no incident' })).status).toBe(200);
    const got = await r.received(4);
    expect(got.every((d) => d.verdict.ok)).toBe(true);
    const events = got.map((d) => AccessRequestWebhookEvent.parse(JSON.parse(d.body)));
    expect(events.map((e) => [e.type, e.request.id])).toEqual([
      ['access_request.created', request.id],
      ['access_request.approved', request.id],
      ['access_request.created', other.id],
      ['access_request.denied', other.id],
    ]);
    expect(events[1]!.request).toMatchObject({ state: 'approved', reviews: [{ reviewer: 'bob', decision: 'approve', reason: 'go ahead' }] });
    expect(events[1]!.request.accessUntil).not.toBeNull();

    // The auditors' search by request id finds each request's own steps and nothing of the other.
    const steps = async (id: string) => ((await call(carol!, 'GET', `/v1/audit/events?request=${id}`)).json.events as AuditEvent[]).map((e) => e.type);
    expect(await steps(request.id)).toEqual(['access_request.review', 'access_request.create']);
    expect(await steps(other.id)).toEqual(['access_request.review', 'access_request.create']);
  }, 300_000);
});
