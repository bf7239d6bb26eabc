// Proxy + tunnel + agent with a plain HTTPS upstream that reports what it
// received: identity headers, streaming, offline and reconnect. (kubectl
// itself is exercised against the kube-apiserver test double elsewhere.)
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { startAgent, type RunningAgent } from '@ztsh/agent';
import { createTestTls } from '@ztsh/testkit';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPublicKey, issueCertificate } from '@ztsh/auth';
import { ZtshHome } from '@ztsh/cli';
import { cli, newZtshHome } from './helpers/cli.ts';
import { httpLogin, newLoginKeys } from './helpers/http-login.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { ZTSHD } from './helpers/source-bins.ts';

let stack: TestStack;
let upstream: Server;
let upstreamUrl: URL;
let upstreamCa: string;
let agent: RunningAgent;
let alice: Agent;
const seen: { path: string; headers: Record<string, unknown> }[] = [];
let release: (() => void) | undefined;

function token(cluster: string): string {
  const r = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', cluster, '--data-dir', stack.dataDir, '--format', 'json'], { encoding: 'utf8' });
  return JSON.parse(r.stdout).token;
}

async function newAgent(cluster: string, labels: Record<string, string>, stateDir = mkdtempSync(join(tmpdir(), 'ztsh-agent-')), saToken = 'agent-sa-token') {
  const t = token(cluster);
  return startAgent({
    proxy: stack.url,
    cluster,
    labels,
    stateDir,
    token: () => t,
    proxyCa: stack.tlsCa,
    kube: { server: upstreamUrl, token: () => saToken, ca: upstreamCa },
    log: pino({ level: 'silent' }),
    backoff: { baseMs: 20, maxMs: 100 },
  });
}

beforeAll(async () => {
  stack = await startTestStack();
  const tls = await createTestTls();
  upstreamCa = tls.caCert;
  upstream = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    seen.push({ path: req.url!, headers: req.headers });
    if (req.url!.includes('watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"n":1}\n');
      release = () => res.end('{"n":2}\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = new URL(`https://localhost:${(upstream.address() as AddressInfo).port}`);
  agent = await newAgent('dev1', { env: 'dev' });
  await agent.connected();
  const login = await httpLogin(stack.url, stack.tlsCa, DEV_USERS[0]!);
  alice = new Agent({ connect: { ca: stack.tlsCa, cert: login.json.certificate, key: login.keys.privateKey } });
});

afterAll(async () => {
  await agent?.stop();
  await stack?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

const get = (path: string, headers: Record<string, string> = {}, dispatcher: Agent = alice) =>
  fetch(new URL(path, stack.url), { headers, dispatcher });

describe('proxy, tunnel and agent', () => {
  it('forwards with the agent\'s credentials and the identity the roles give, dropping what the client claimed', async () => {
    const res = await get('/k8s/dev1/api/v1/namespaces/default/pods?limit=5', {
      authorization: 'Bearer stolen',
      'impersonate-user': 'system:admin',
      'impersonate-group': 'system:masters',
    });
    // The client's Impersonate-User is checked against the roles first: refused.
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toMatch(/may not impersonate user system:admin/);

    const ok = await get('/k8s/dev1/api/v1/namespaces/default/pods?limit=5', { authorization: 'Bearer stolen' });
    expect(ok.status).toBe(200);
    const last = seen.at(-1)!;
    expect(last.path).toBe('/api/v1/namespaces/default/pods?limit=5');
    expect(last.headers.authorization).toBe('Bearer agent-sa-token');
    expect(last.headers['impersonate-user']).toBe('alice');
    expect(last.headers['impersonate-group']).toBe('developers');
  });

  it('refuses without a certificate, for unknown clusters, and for what the roles deny, without forwarding', async () => {
    const before = seen.length;
    const anonymous = await get('/k8s/dev1/api/v1/pods', {}, new Agent({ connect: { ca: stack.tlsCa } }));
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { message: string }).message).toMatch(/run ztsh login/);
    const unknown = await get('/k8s/nope/api/v1/pods');
    expect(unknown.status).toBe(403);
    expect(((await unknown.json()) as { message: string }).message).toContain('cluster "nope" not found');
    const secrets = await get('/k8s/dev1/api/v1/namespaces/default/secrets');
    expect(secrets.status).toBe(403);
    expect(await secrets.json()).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden' });
    expect(seen.length).toBe(before);
  });

  it('refuses a certificate from another CA, and an expired one from ours, telling the user to log in', async () => {
    const foreign = await createTestTls();
    const stranger = await get('/k8s/dev1/api/v1/namespaces/default/pods', {}, new Agent({ connect: { ca: stack.tlsCa, cert: foreign.cert, key: foreign.key } }));
    expect(stranger.status).toBe(401);
    expect(((await stranger.json()) as { message: string }).message).toBe('this certificate was not issued by this ztsh: run ztsh login');

    const keys = newLoginKeys();
    const identity = { v: 1 as const, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: ['developers'], traits: {}, mfaVerified: true, loginId: 'x', connector: 'dev', issuedForIp: '127.0.0.1' };
    const expired = issueCertificate({
      ca: stack.ztshd.auth.userCa,
      publicKey: checkPublicKey(keys.publicKey),
      identity,
      notBefore: new Date(Date.now() - 9 * 3_600_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    const late = await get('/k8s/dev1/api/v1/namespaces/default/pods', {}, new Agent({ connect: { ca: stack.tlsCa, cert: expired.pem, key: keys.privateKey } }));
    expect(late.status).toBe(401);
    expect(((await late.json()) as { message: string }).message).toBe('your ztsh certificate has expired: run ztsh login');

    // The kubeconfig's credential plugin says the same before kubectl even connects.
    const home = newZtshHome();
    const h = new ZtshHome(home);
    h.writeProfile(stack.url, {
      meta: { proxy: stack.url.origin, user: 'alice', roles: [], kubernetesGroups: [], kubernetesUsers: [], mfaVerified: true, validUntil: '', loggedInAt: '' },
      keyPem: keys.privateKey, certPem: expired.pem, userCaPem: '', hostCaPem: '',
    });
    h.setCurrent(stack.url);
    const creds = await cli(['kube', 'credentials', '--cluster', 'dev1'], { ZTSH_HOME: home });
    expect(creds.code).toBe(1);
    expect(creds.stderr).toMatch(/^error: your ztsh certificate for localhost:\d+ has expired: run ztsh login/);
  });

  it('streams a watch event by event: the first arrives while the upstream still holds the response open', async () => {
    const res = await get('/k8s/dev1/api/v1/namespaces/default/pods?watch=1');
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('{"n":1}\n');
    release!();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe('{"n":2}\n');
  });

  it('lists only the clusters whose labels the user\'s roles reach, with their labels and online state', async () => {
    const other = await newAgent('prod1', { env: 'prod' });
    await other.connected();
    const list = async () => ((await (await get("/v1/clusters")).json()) as { clusters: { name: string; online: boolean }[] }).clusters;
    // alice's developer role reaches env dev/staging/sandbox only.
    expect(await list()).toEqual([expect.objectContaining({ name: 'dev1', online: true, labels: { env: 'dev' } })]);
    await other.stop();
  });

  it('routes two clusters through their own agents at the same time', async () => {
    const second = await newAgent('dev2', { env: 'dev' }, undefined, 'dev2-sa-token');
    await second.connected();
    const asked = Array.from({ length: 20 }, (_, i) => (i % 2 ? 'dev1' : 'dev2'));
    const answers = await Promise.all(asked.map((c, i) => get(`/k8s/${c}/api/v1/namespaces/n${i}/configmaps`)));
    expect(answers.map((r) => r.status)).toEqual(asked.map(() => 200));
    for (const [i, cluster] of asked.entries()) {
      const hit = seen.find((q) => q.path === `/api/v1/namespaces/n${i}/configmaps`)!;
      expect(hit.headers.authorization).toBe(cluster === 'dev1' ? 'Bearer agent-sa-token' : 'Bearer dev2-sa-token');
    }
    await second.stop();
  });

  it('says a cluster is offline while its agent is away, and serves again when it is back', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ztsh-agent-'));
    const second = await newAgent('staging1', { env: 'staging' }, stateDir);
    await second.connected();
    expect((await get('/k8s/staging1/api/v1/namespaces/default/pods')).status).toBe(200);
    await second.stop();
    await expect.poll(async () => (await get('/k8s/staging1/api/v1/namespaces/default/pods')).status).toBe(503);
    const offline = await get('/k8s/staging1/api/v1/namespaces/default/pods');
    expect(((await offline.json()) as { message: string }).message).toContain('cluster "staging1" is offline: its agent is not connected');
    // Restarted with its saved identity: no new token needed.
    const again = await startAgent({
      proxy: stack.url, cluster: 'staging1', labels: { env: 'staging' }, stateDir, token: () => undefined, proxyCa: stack.tlsCa,
      kube: { server: upstreamUrl, token: () => 'agent-sa-token', ca: upstreamCa }, log: pino({ level: 'silent' }),
    });
    await again.connected();
    expect((await get('/k8s/staging1/api/v1/namespaces/default/pods')).status).toBe(200);
    await again.stop();
  });
});
