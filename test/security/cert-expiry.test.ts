// Item 6 of the security review: a watch or an exec does not outlive the
// certificate it was allowed on. Each ends at the certificate's notAfter,
// the way a lock ends it, saying why.
import { request } from 'node:https';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEV_USERS } from '@ztsh/server';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { codeFrom, throughIdp, totpNow } from '../helpers/http-login.ts';
import { rawRequest, type Credentials } from './helpers/raw-client.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

/** alice logs in for a few seconds only (the TTL a login may ask for). */
async function shortLivedAlice(ttl: string): Promise<Credentials & { notAfter: Date }> {
  const alice = DEV_USERS[0]!;
  const step = await throughIdp(k.stack.url, k.stack.tlsCa, alice, { ttl });
  const page = await step.forms.submitForm(step.page, { code: totpNow(alice.totpSecret!, Date.now() + 30_000) }, { formAction: '/mfa/totp' });
  const code = codeFrom(page);
  if (!code) throw new Error(`no code after MFA: ${page.status}`);
  const exchanged = await step.api.post('/v1/login/exchange', { code, verifier: step.keys.verifier });
  await step.forms.close();
  await step.api.close();
  return { cert: exchanged.json.certificate, key: step.keys.privateKey, notAfter: new Date(exchanged.json.validUntil) };
}

it('item 6: a watch and an exec end at the certificate\'s notAfter, with a clear message, and the session records why', async () => {
  const creds = await shortLivedAlice('6s');
  const port = Number(k.stack.url.port);

  const watch = new Promise<{ body: string; endedAt: number }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/k8s/sandbox/api/v1/namespaces/default/pods?watch=true', ca: k.stack.tlsCa, cert: creds.cert, key: creds.key, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ body, endedAt: Date.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

  const exec = new Promise<{ code: number; reason: string; endedAt: number; channel3: string }>((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=cat&stdin=true&stdout=true`, ['v5.channel.k8s.io'], {
      ca: k.stack.tlsCa,
      cert: creds.cert,
      key: creds.key,
    });
    let channel3 = '';
    ws.on('message', (data: Buffer) => {
      if (data[0] === 3) channel3 += data.subarray(1).toString();
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), endedAt: Date.now(), channel3 }));
    ws.on('error', reject);
  });

  const [w, e] = await Promise.all([watch, exec]);
  // Ended by the expiry, not before it (X.509 times are whole seconds), and not long after (the test would time out otherwise).
  expect(w.endedAt).toBeGreaterThanOrEqual(creds.notAfter.getTime() - 1000);
  const lastEvent = JSON.parse(w.body.trim().split('\n').at(-1)!) as { type: string; object: { code: number; message: string } };
  expect(lastEvent.type).toBe('ERROR');
  expect(lastEvent.object.code).toBe(401);
  expect(lastEvent.object.message).toContain('certificate expired');

  expect(e.endedAt).toBeGreaterThanOrEqual(creds.notAfter.getTime() - 1000);
  expect(e.code).toBe(1008);
  expect(e.reason).toContain('certificate expired');
  expect(JSON.parse(e.channel3)).toMatchObject({ kind: 'Status', code: 401 });

  await expect
    .poll(async () => (await k.stack.ztshd.auth.storage.sessions.search({ user: 'alice', limit: 10 })).find((s) => s.command.join(' ') === 'cat')?.endReason)
    .toBe('expired');

  // item 10: the next request on the expired certificate is refused and audited as alice's.
  const auditBefore = (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).length;
  const late = await rawRequest(k.stack, { path: '/k8s/sandbox/api/v1/namespaces/default/pods', as: creds });
  expect(late.status).toBe(401);
  const refusal = (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).slice(auditBefore).find((e) => e.type === 'kube.request');
  expect(refusal).toMatchObject({ user: 'alice', success: false, fields: { reason: 'expired', certificateExpired: true } });
});
