// Restarting ztshd: the CAs, the agent's identity and the user's certificate
// all survive; the agent reconnects by itself and requests flow again.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { startAgent } from '@ztsh/agent';
import { createJoinToken } from '@ztsh/auth';
import { DEV_USERS, startDevStack } from '@ztsh/server';
import { createTestTls } from '@ztsh/testkit';
import { describe, expect, it } from 'vitest';
import { httpLogin } from './helpers/http-login.ts';

describe('ztshd restart', () => {
  it('the agent reconnects without a new token and the user\'s certificate still works', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-restart-'));
    const log = pino({ level: 'silent' });
    const tls = await createTestTls();
    const upstream = createServer({ cert: tls.cert, key: tls.key }, (req, res) => res.end(JSON.stringify({ path: req.url })));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamUrl = new URL(`https://localhost:${(upstream.address() as AddressInfo).port}`);

    const first = await startDevStack({ dataDir, port: 0, log });
    const port = first.ztshd.port;
    const ca = first.ztshd.tls.selfSignedCa!;
    const { token } = await createJoinToken(first.ztshd.auth.deps, { type: 'agent', cluster: 'dev1', ttlMs: 60_000, uses: 1 });
    let used = false;
    const agent = await startAgent({
      proxy: first.url,
      cluster: 'dev1',
      labels: { env: 'dev' },
      stateDir: join(dataDir, 'agent'),
      token: () => (used ? undefined : ((used = true), token)),
      proxyCa: ca,
      kube: { server: upstreamUrl, token: () => 'sa', ca: tls.caCert },
      log,
      backoff: { baseMs: 20, maxMs: 200 },
    });
    await agent.connected();
    const login = await httpLogin(first.url, ca, DEV_USERS[0]!);
    const alice = new Agent({ connect: { ca, cert: login.json.certificate, key: login.keys.privateKey } });
    const get = (base: URL) => fetch(new URL('/k8s/dev1/api/v1/namespaces/default/pods', base), { dispatcher: alice });
    expect((await get(first.url)).status).toBe(200);

    await first.close();
    await expect.poll(() => agent.isConnected()).toBe(false);
    const second = await startDevStack({ dataDir, port, log });
    try {
      await agent.connected();
      await expect.poll(async () => (await get(second.url)).status, { timeout: 10_000 }).toBe(200);
      expect(second.ztshd.proxy.tunnels.list()).toEqual([expect.objectContaining({ name: 'dev1', online: true })]);
    } finally {
      await agent.stop();
      await alice.close();
      await second.close();
      upstream.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('item 16: after a restart, a known cluster whose agent is not back yet reads "offline", not "not found"', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-restart-'));
    const log = pino({ level: 'silent' });
    const tls = await createTestTls();
    const first = await startDevStack({ dataDir, port: 0, log });
    const port = first.ztshd.port;
    const ca = first.ztshd.tls.selfSignedCa!;
    const { token } = await createJoinToken(first.ztshd.auth.deps, { type: 'agent', cluster: 'dev2', ttlMs: 60_000, uses: 1 });
    const agent = await startAgent({
      proxy: first.url,
      cluster: 'dev2',
      labels: { env: 'dev' },
      stateDir: join(dataDir, 'agent'),
      token: () => token,
      proxyCa: ca,
      kube: { server: new URL('https://127.0.0.1:9'), token: () => 'sa', ca: tls.caCert },
      log,
      backoff: { baseMs: 20, maxMs: 200 },
    });
    await agent.connected();
    const login = await httpLogin(first.url, ca, DEV_USERS[0]!);
    const alice = new Agent({ connect: { ca, cert: login.json.certificate, key: login.keys.privateKey } });
    await agent.stop();
    await first.close();
    const second = await startDevStack({ dataDir, port, log });
    try {
      const answer = await fetch(new URL('/k8s/dev2/api/v1/namespaces/default/pods', second.url), { dispatcher: alice });
      expect(answer.status).toBe(503);
      expect(((await answer.json()) as { message: string }).message).toContain('cluster "dev2" is offline');
      const unknown = await fetch(new URL('/k8s/nosuch/api/v1/namespaces/default/pods', second.url), { dispatcher: alice });
      expect(unknown.status).toBe(403);
      expect(((await unknown.json()) as { message: string }).message).toContain('cluster "nosuch" not found');
      expect(second.ztshd.proxy.tunnels.list()).toEqual([expect.objectContaining({ name: 'dev2', online: false, labels: { env: 'dev' } })]);
    } finally {
      await alice.close();
      await second.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
