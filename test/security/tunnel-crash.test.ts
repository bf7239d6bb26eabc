// Item 4 of the security review: one agent could bring the whole ztshd
// down. A tunnel that carried one binary message that is no HTTP/2, then a
// user request to its cluster, made the proxy's HTTP/2 session fail and an
// uncaught ERR_HTTP2_INVALID_SESSION end the process. Also here: refused
// tunnel upgrades are audited, and the agent holds a lying proxy to the same rules.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startAgent } from '@ztsh/agent';
import { createTestTls } from '@ztsh/testkit';
import { SA_TOKEN, startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest, type Credentials } from './helpers/raw-client.ts';
import { joinRogueAgent, openRogueTunnel } from './helpers/rogue-agent.ts';

let k: KubeEnv;

beforeAll(async () => {
  k = await startKubeEnv();
});

afterAll(async () => {
  await k?.close();
});

describe('a tunnel that is not HTTP/2', () => {
  it('item 4: one non-HTTP/2 binary message then a user request closes only that tunnel', async () => {
    const identity = await joinRogueAgent(k, 'rogue');
    const rogue = await openRogueTunnel(k, identity, { env: 'sandbox' });
    rogue.ws.send(Buffer.from('this is no HTTP/2 connection preface, nor any frame at all'));

    const answer = await rawRequest(k.stack, { path: '/k8s/rogue/api/v1/namespaces/default/pods', as: k.alice });
    expect([502, 503]).toContain(answer.status);
    expect(answer.json()).toMatchObject({ kind: 'Status', status: 'Failure', code: answer.status });

    // The tunnel is closed with a protocol-error close code, and audited.
    expect((await rogue.closed).code).toBe(1002);
    const closed = await k.stack.ztshd.auth.storage.audit.search({ type: 'tunnel.closed', cluster: 'rogue' });
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({ success: false, user: expect.stringMatching(/^agent\.rogue\./), fields: { cluster: 'rogue', reason: 'not_http2', closeCode: 1002 } });
    expect(k.stack.ztshd.proxy.tunnels.get('rogue')).toBeUndefined();

    // ztshd is still up and the other cluster still answers alice.
    const sandbox = await rawRequest(k.stack, { path: '/k8s/sandbox/api/v1/namespaces/default/pods', as: k.alice });
    expect(sandbox.status).toBe(200);
    const again = await rawRequest(k.stack, { path: '/k8s/rogue/api/v1/namespaces/default/pods', as: k.alice });
    expect(again.status).toBe(503);
  });

  it('item 4: a valid SETTINGS frame, then bytes that are no HTTP/2, then a user request closes only that tunnel', async () => {
    const identity = await joinRogueAgent(k, 'rogue-settings');
    const rogue = await openRogueTunnel(k, identity, { env: 'sandbox' });
    // The agent's preface is right, so the proxy opens its HTTP/2 session at the request and reads the rest.
    rogue.ws.send(EMPTY_SETTINGS);
    await sentAndSettled(rogue.ws);
    rogue.ws.send(Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), Buffer.from('no frame is this long')]));

    const answer = await rawRequest(k.stack, { path: '/k8s/rogue-settings/api/v1/namespaces/default/pods', as: k.alice });
    expect([502, 503]).toContain(answer.status);
    expect(answer.json()).toMatchObject({ kind: 'Status', code: answer.status });
    expect((await rogue.closed).code).toBe(1002);
    const closed = await k.stack.ztshd.auth.storage.audit.search({ type: 'tunnel.closed', cluster: 'rogue-settings' });
    expect(closed).toMatchObject([{ success: false, code: 'ZA1306W', fields: { reason: 'http2_error', closeCode: 1002 } }]);

    const sandbox = await rawRequest(k.stack, { path: '/k8s/sandbox/api/v1/namespaces/default/pods', as: k.alice });
    expect(sandbox.status).toBe(200);
  });
});

describe('a tunnel that never speaks HTTP/2', () => {
  it('item 4: an agent that sends part of a SETTINGS frame and then nothing is closed and audited', async () => {
    const identity = await joinRogueAgent(k, 'silent');
    const rogue = await openRogueTunnel(k, identity, { env: 'sandbox' });
    rogue.ws.send(EMPTY_SETTINGS.subarray(0, 5));
    // The proxy waits a while for the rest (an honest agent sends it at once), then ends the tunnel.
    expect((await rogue.closed).code).toBe(1002);
    const [event] = await k.stack.ztshd.auth.storage.audit.search({ type: 'tunnel.closed', cluster: 'silent' });
    expect(event).toMatchObject({ success: false, fields: { reason: 'not_http2' } });
    expect(event!.message).toMatch(/no SETTINGS frame/);
    const answer = await rawRequest(k.stack, { path: '/k8s/silent/api/v1/namespaces/default/pods', as: k.alice });
    expect(answer.status).toBe(503);
  });
});

describe('a proxy that lies to the agent', () => {
  it('item 4: an agent whose proxy breaks HTTP/2 drops that tunnel with 1002 and dials again', async () => {
    // The agent's saved identity, and a "proxy" on port 0 that answers its tunnel with garbage.
    const identity = await joinRogueAgent(k, 'lied-to');
    const stateDir = mkdtempSync(join(tmpdir(), 'ztsh-agent-'));
    writeFileSync(join(stateDir, 'agent.key'), identity.key);
    writeFileSync(join(stateDir, 'agent.crt'), identity.cert);
    writeFileSync(join(stateDir, 'host-ca.pem'), identity.hostCa.join(''));
    const tls = await createTestTls(['127.0.0.1']);
    const server = createHttpsServer({ cert: tls.cert, key: tls.key });
    const wss = new WebSocketServer({ server });
    const codes: number[] = [];
    const secondDial = new Promise<void>((resolve) => {
      let dials = 0;
      wss.on('connection', (ws) => {
        ws.on('close', (code) => codes.push(code));
        // A valid client preface, then a frame longer than any may be: nghttp2 answers with GOAWAY.
        if (++dials === 1) ws.send(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), EMPTY_SETTINGS, Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1])]));
        else resolve();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = await startAgent({
      proxy: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`),
      cluster: 'lied-to',
      labels: {},
      stateDir,
      token: () => undefined,
      proxyCa: tls.caCert,
      kube: { server: k.kube.url, token: () => SA_TOKEN, ca: k.kubeCa },
      log: pino({ level: 'silent' }),
      backoff: { baseMs: 10, maxMs: 50 },
    });
    try {
      await secondDial;
      expect(codes[0]).toBe(1002);
    } finally {
      await agent.stop();
      wss.close();
      server.close();
    }
  });
});

describe('refused tunnel upgrades', () => {
  const upgrade = (as?: Credentials, labels?: string) =>
    rawRequest(k.stack, {
      path: '/v1/tunnel',
      as,
      headers: { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13', ...(labels ? { 'x-ztsh-labels': labels } : {}) },
    });
  const refusals = () => k.stack.ztshd.auth.storage.audit.search({ type: 'tunnel.refused', limit: 100 });

  it('item 4 (item 10): a tunnel upgrade without an agent certificate is refused with 401 and audited', async () => {
    const before = (await refusals()).length;
    const none = await upgrade();
    expect(none.status).toBe(401);
    expect(none.json()).toMatchObject({ kind: 'Status', code: 401 });
    // A user certificate is no agent's: issued by the user CA, not the host CA.
    const user = await upgrade(k.alice);
    expect(user.status).toBe(401);
    const events = await refusals();
    expect(events.length).toBe(before + 2);
    expect(events[1]).toMatchObject({ success: false, code: 'ZA1305W', user: '-', fields: { reason: 'no_certificate', status: 401 } });
    expect(events[0]).toMatchObject({ success: false, code: 'ZA1305W', user: 'alice', fields: { reason: 'untrusted', status: 401 } });
    expect(events[0]!.clientIp).toBe('127.0.0.1');
  });

  it('item 4 (item 10): an agent whose labels are no JSON object of strings is refused with 400 and audited', async () => {
    const identity = await joinRogueAgent(k, 'labelled');
    const answer = await upgrade(identity, '{"env": 7}');
    expect(answer.status).toBe(400);
    const [event] = await refusals();
    expect(event).toMatchObject({ success: false, user: expect.stringMatching(/^agent\.labelled\./), fields: { reason: 'bad_labels', status: 400, cluster: 'labelled' } });
    expect(k.stack.ztshd.proxy.tunnels.get('labelled')).toBeUndefined();
  });
});

/** An HTTP/2 SETTINGS frame with no settings: a valid server preface. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/** Resolves once ws has handed what was sent to the socket. */
function sentAndSettled(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => ws.ping(undefined, undefined, (err) => (err ? reject(err) : resolve())));
}

