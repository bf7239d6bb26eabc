// The access-request webhook as an attacker sees it: someone who can reach
// the receiver forges, alters or replays deliveries; someone who reads
// ztshd's logs or config looks for the shared secret. The documented check
// (protocol's verifyWebhookSignature, the recipe in docs/configuration.md)
// must refuse every forgery, and the secret must appear nowhere but in the
// HMAC.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessRequestsConfigSchema, AuthConfigSchema, createWebhookNotifier, ManualClock, webhookFromConfig } from '@ztsh/auth';
import { verifyWebhookSignature, webhookSignature, webhookSignatureHeader, WEBHOOK_TOLERANCE_SEC } from '@ztsh/protocol';
import { capturedLog, sampleRequest, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

const SECRET = 'whsec-0f9e8d7c6b5a49382716a5b4c3d2e1f0';
const T = Date.parse('2026-11-30T14:00:00Z');
const FAST = { attempts: 3, firstDelayMs: 10, maxDelayMs: 50 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One real delivery, as a receiver got it, signed at the ManualClock's time T. */
async function captured(): Promise<{ header: string; body: string; receiver: WebhookReceiver }> {
  const receiver = await startWebhookReceiver({ secret: SECRET, nowSec: () => T / 1000 });
  cleanups.push(() => receiver.close());
  const notifier = createWebhookNotifier({ url: receiver.url, secret: SECRET, log: capturedLog().log, clock: new ManualClock(T), retry: FAST });
  cleanups.push(() => notifier.close());
  notifier.notify('approved', sampleRequest({ state: 'approved' }));
  const [d] = await receiver.received(1);
  expect(d!.verdict).toEqual({ ok: true, t: T / 1000 });
  return { header: String(d!.headers['x-ztsh-signature']), body: d!.body, receiver };
}

const check = (header: string | undefined, body: string | Uint8Array, nowSec = T / 1000, secret = SECRET) => verifyWebhookSignature({ secret, header, body, nowSec });

describe('webhook signature: forged, altered and replayed deliveries', () => {
  it('refuses a delivery replayed after the tolerance, or stamped in the future', async () => {
    const { header, body } = await captured();
    expect(check(header, body, T / 1000 + WEBHOOK_TOLERANCE_SEC).ok).toBe(true);
    expect(check(header, body, T / 1000 + WEBHOOK_TOLERANCE_SEC + 1)).toEqual({ ok: false, reason: 'signature time outside the tolerance' });
    expect(check(header, body, T / 1000 - WEBHOOK_TOLERANCE_SEC - 1).ok).toBe(false);
    // Moving t forward to pass the window breaks the HMAC, which covers t.
    const moved = header.replace(/^t=\d+/, `t=${T / 1000 + 3600}`);
    expect(check(moved, body, T / 1000 + 3600)).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('refuses a signature made with another secret, and one over another body or time', async () => {
    const { header, body } = await captured();
    const t = T / 1000;
    expect(check(webhookSignatureHeader('not-the-secret-at-all-0000', t, body), body).ok).toBe(false);
    expect(check(header, body, t, SECRET + 'x').ok).toBe(false);
    // The delivery id a receiver deduplicates by is inside the signed body: a replay cannot change it.
    const event = JSON.parse(body) as { id: string };
    expect(check(header, body.replace(event.id, 'fresh-id-0000000000000')).ok).toBe(false);
    // Same JSON, other bytes: whitespace, key order. The bytes are what is signed.
    expect(check(header, JSON.stringify(JSON.parse(body), null, 1)).ok).toBe(false);
    expect(check(header, body + '\n').ok).toBe(false);
    expect(check(`t=${t},v1=${webhookSignature(SECRET, t - 1, body)}`, body).ok).toBe(false);
  });

  it('changes to any byte of the body break the signature (property)', async () => {
    const { header, body } = await captured();
    const bytes = Buffer.from(body, 'utf8');
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const changed = Buffer.from(bytes);
        changed[at] = changed[at]! ^ flip;
        expect(check(header, changed).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), (before, after) => {
        fc.pre(before.length + after.length > 0);
        expect(check(header, before + body + after).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses headers that do not follow the format, whatever they hold', async () => {
    const { header, body } = await captured();
    const t = T / 1000;
    const v1 = header.split('v1=')[1]!;
    const bad = [
      undefined,
      '',
      `v1=${v1}`,
      `t=${t}`,
      `t=${t},v0=${v1}`,
      `t=${t},v1=${v1.toUpperCase()}`,
      `t=${t},v1=${v1.slice(2)}`,
      `t=${t},v1=${v1}00`,
      `t=${t},t=${t},v1=${v1}`,
      `t=${t}.0,v1=${v1}`,
      `t=-${t},v1=${v1}`,
      `t=${t},v1=${v1},` + 'x'.repeat(2000),
      `t=${t};v1=${v1}`,
      header.replace(',', ''),
    ];
    for (const h of bad) expect(check(h, body), String(h)).toMatchObject({ ok: false });
    // Several v1 values (a receiver mid-rotation tries each): any that matches is enough; spaces are tolerated.
    expect(check(`t=${t}, v1=${'0'.repeat(64)}, v1=${v1}`, body).ok).toBe(true);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (h) => {
        expect(check(h, body).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

/** python3, where the machine has one: the recipe in the docs is run as a receiver would paste it. */
const PYTHON = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['--version']).status === 0);

describe('the receivers\' recipe in docs/configuration.md', () => {
  it.skipIf(!PYTHON)('accepts a real delivery once, and refuses it replayed, altered, forged or old', async () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const recipe = /```python\n([\s\S]*?)```/.exec(doc.slice(doc.indexOf('Checking the signature')))![1]!;
    const receiver = await startWebhookReceiver({ secret: SECRET });
    cleanups.push(() => receiver.close());
    const now = createWebhookNotifier({ url: receiver.url, secret: SECRET, log: capturedLog().log, retry: FAST });
    const old = createWebhookNotifier({ url: receiver.url, secret: SECRET, log: capturedLog().log, retry: FAST, clock: new ManualClock(Date.now() - 400_000) });
    cleanups.push(() => now.close(), () => old.close());
    now.notify('created', sampleRequest());
    await receiver.received(1);
    old.notify('created', sampleRequest());
    const [fresh, stale] = await receiver.received(2);
    const forged = webhookSignatureHeader('another-secret-of-32-characters!', Math.floor(Date.now() / 1000), fresh!.body);
    const cases = [
      { header: String(fresh!.headers['x-ztsh-signature']), body: fresh!.body },
      { header: String(fresh!.headers['x-ztsh-signature']), body: fresh!.body },
      { header: String(fresh!.headers['x-ztsh-signature']), body: fresh!.body.replace('alice', 'mallory') },
      { header: forged, body: fresh!.body },
      { header: String(stale!.headers['x-ztsh-signature']), body: stale!.body },
      { header: 'garbage,t=²,v1=é', body: fresh!.body },
    ];
    const driver = `${recipe}\nimport sys\ncases = json.load(sys.stdin)\nseen = set()\nprint(json.dumps([verify(sys.argv[1].encode(), c["header"], c["body"].encode(), seen) for c in cases]))\n`;
    const run = spawnSync(PYTHON!, ['-c', driver, SECRET], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual([true, false, false, false, false, false]);
  });
});

describe('webhook secret: never inline, never logged, never sent', () => {
  it('is refused inline in ztsh.yaml, in the URL, or as both a file and an env variable', () => {
    const connector = { name: 'dev', type: 'oidc', issuer: 'https://idp.example.com', client_id: 'ztsh', client_secret: 'x', claims_to_roles: [{ claim: 'groups', value: 'g', roles: ['r'] }] };
    const parse = (webhook: unknown) => AuthConfigSchema.safeParse({ connectors: [connector], access_requests: { webhook } });
    const problem = (webhook: unknown) => {
      const r = parse(webhook);
      expect(r.success, JSON.stringify(webhook)).toBe(false);
      const issue = r.error!.issues[0]!;
      return `${issue.path.join('.')}: ${issue.message}`;
    };
    expect(problem({ url: 'https://hooks.example.com/ztsh', secret: SECRET })).toMatch(/^access_requests\.webhook/);
    expect(problem({ url: 'https://hooks.example.com/ztsh', secret_file: 'a', secret_env: 'B' })).toContain('never inline');
    expect(problem({ url: 'https://hooks.example.com/ztsh' })).toContain('secret_file or secret_env');
    expect(problem({ url: `https://ztsh:${SECRET}@hooks.example.com/ztsh`, secret_env: 'B' })).toContain('user name or password');
    for (const url of ['http://hooks.example.com/ztsh', 'http://10.0.0.5/hook', 'http://127.0.0.1.nip.io/hook', 'ftp://127.0.0.1/hook', 'file:///etc/passwd']) {
      expect(problem({ url, secret_env: 'B' }), url).toContain('https://');
    }
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://[::1]:9/hook', 'https://hooks.example.com/ztsh']) {
      expect(parse({ url, secret_env: 'B' }).success, url).toBe(true);
    }
    // The error never echoes a secret it was given.
    expect(JSON.stringify(parse({ url: 'https://hooks.example.com/', secret: SECRET }).error)).not.toContain(SECRET);
  });

  it('is refused when short, missing or unreadable, and the errors do not show it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-webhook-sec-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { log, lines } = capturedLog();
    const from = (webhook: object, env: Record<string, string> = {}) => () =>
      webhookFromConfig(AccessRequestsConfigSchema.parse({ webhook: { url: 'https://hooks.example.com/ztsh', ...webhook } }), { secrets: { env, baseDir: dir }, log });
    writeFileSync(join(dir, 'short'), 'tooshort123\n');
    expect(from({ secret_file: 'short' })).toThrow(/secret_file: the shared secret is shorter than 16 characters/);
    expect(from({ secret_env: 'WEBHOOK_SECRET' }, { WEBHOOK_SECRET: 'tooshort123' })).toThrow(/secret_env/);
    expect(from({ secret_env: 'WEBHOOK_SECRET' })).toThrow(/environment variable WEBHOOK_SECRET is not set/);
    expect(from({ secret_file: 'missing' })).toThrow(/cannot read/);
    expect(from({ secret_env: 'WEBHOOK_SECRET', ca_file: 'missing.pem' }, { WEBHOOK_SECRET: SECRET })).toThrow(/ca_file: cannot read/);
    try {
      from({ secret_file: 'short' })();
    } catch (err) {
      expect(JSON.stringify({ message: (err as Error).message, hint: (err as { hint?: string }).hint })).not.toContain('tooshort123');
    }
    expect(lines()).not.toContain('tooshort123');
  });

  it('appears in no log line and no header or body the receiver gets, through success, retries, refusals and a full queue', async () => {
    // A chat-style URL whose path is itself a token: it stays out of the logs too.
    const pathToken = 'T0KEN-in-the-path-9f8e7d';
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const receiver = await startWebhookReceiver({
      secret: SECRET,
      path: `/services/${pathToken}?token=${pathToken}`,
      answer: async (n) => (n === 0 ? (await gate, 500) : n === 1 ? 'hang' : n === 2 ? 200 : 403),
    });
    cleanups.push(() => receiver.close());
    const { log, lines } = capturedLog();
    const notifier = createWebhookNotifier({ url: receiver.url, secret: SECRET, log, retry: FAST, timeoutMs: 300, maxQueue: 1 });
    cleanups.push(() => notifier.close());
    notifier.notify('created', sampleRequest({ id: 'first' }));
    await receiver.received(1);
    notifier.notify('approved', sampleRequest({ id: 'second', state: 'approved' }));
    notifier.notify('denied', sampleRequest({ id: 'third', state: 'denied' }));
    open();
    await notifier.idle();
    const logged = lines();
    // Every path ran: a 5xx retry, a timeout, a delivery, a refusal, a dropped event.
    for (const text of ['will retry', 'no answer within', 'delivered', 'refused by the receiver', 'queue full']) expect(logged).toContain(text);
    expect(logged).toContain('"webhook":"http://127.0.0.1:');
    expect(logged).not.toContain(SECRET);
    expect(logged).not.toContain(pathToken);
    for (const d of receiver.deliveries) {
      expect(JSON.stringify(d.headers)).not.toContain(SECRET);
      expect(d.body).not.toContain(SECRET);
    }
  });
});
