// The proxy run apart from auth (services: [proxy] and [auth]): the proxy
// joins auth with a proxy token and speaks HTTPS with its host certificate.
// Everything users do still goes through the proxy's one address: login,
// kubectl with the real binaries, exec recorded and replayed, audit search,
// and a lock that ends a running watch. Only a proxy may speak auth's
// internal API, and no one can pass themselves off as a proxy's client.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Agent, fetch } from 'undici';
import { DEV_USERS } from '@ztsh/server';
import { ensureProxyIdentity, httpAuthClient, STALE_MS } from '@ztsh/proxy';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { FORWARDED_HEADERS, recordingName, type AuditEvent, type SessionInfo } from '@ztsh/protocol';
import { findKubectl, runKubectl, startKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { ZTSHD } from './helpers/source-bins.ts';

const kubectl133 = findKubectl('1.33', process.env.PATH)!;
const kubectl130 = findKubectl('1.30', process.env.PATH)!;

let k: KubeEnv;
let carol: Record<string, string>;
let bob: Record<string, string>;

beforeAll(async () => {
  k = await startKubeEnv({ split: true });
  k.kube.addPod('default', 'web-1', { logs: ['started'] });
  carol = await loggedInEnv(k.stack, DEV_USERS[2]!);
  bob = await loggedInEnv(k.stack, DEV_USERS[1]!);
});
afterAll(() => k?.close());


/** A client certificate from the user's stored login. */
async function userTls(home: string): Promise<{ cert: string; key: string }> {
  const { ZtshHome } = await import('@ztsh/cli');
  const files = new ZtshHome(home).readProfile(k.stack.url)!;
  return { cert: files.certPem, key: files.keyPem };
}

function ztshdTokens(args: string[]): { token: string } {
  const made = spawnSync(process.execPath, [...ZTSHD, 'tokens', 'add', ...args, '--data-dir', join(k.stack.dataDir, 'auth'), '--format', 'json'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(made.stderr);
  return JSON.parse(made.stdout) as { token: string };
}

async function join_(body: Record<string, unknown>): Promise<{ status: number; json: { certificate?: string; error?: { message: string } } }> {
  const res = await fetch(new URL('/v1/join', k.stack.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    dispatcher: new Agent({ connect: { ca: k.stack.tlsCa } }),
  });
  return { status: res.status, json: (await res.json()) as never };
}

describe('a proxy apart from auth', () => {
  it('runs as two services: the proxy keeps no database, and joined with a proxy certificate', () => {
    const { split } = k.stack;
    expect(split).toBeDefined();
    expect(split!.auth.url.port).not.toBe(split!.proxy.url.port);
    expect(existsSync(join(k.stack.dataDir, 'auth', 'ztsh.db'))).toBe(true);
    expect(readdirSync(k.stack.dataDir).filter((f) => f.endsWith('.db'))).toEqual([]);
    expect(existsSync(join(k.stack.dataDir, 'proxy-identity', 'proxy.crt'))).toBe(true);
  });

  it('serves kubectl 1.33 and 1.30 through the proxy', async () => {
    for (const bin of [kubectl133, kubectl130]) {
      const r = await runKubectl(bin, ['get', 'pods'], { env: k.env, timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('web-1');
    }
    const denied = await runKubectl(kubectl133, ['get', 'secrets'], { env: k.env, timeoutMs: 30_000 });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/access denied/);
  });

  it('records exec; auth has the recording, and carol replays it through the proxy', async () => {
    const r = await runKubectl(kubectl133, ['exec', '-i', 'web-1', '--', 'cat'], { env: k.env, timeoutMs: 30_000, input: 'split-heron-word\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('split-heron-word\n');
    await expect
      .poll(async () => (await cliJson<SessionInfo[]>(['recordings', 'search', 'split-heron-word'], carol))[0]?.recordingSize ?? null, { timeout: 15_000 })
      .not.toBeNull();
    const [session] = await cliJson<SessionInfo[]>(['recordings', 'search', 'split-heron-word'], carol);
    expect(session).toMatchObject({ user: 'alice', cluster: 'sandbox', kind: 'exec', exitCode: 0, recorded: true });
    const text = await cli(['play', session!.id, '--format', 'text'], carol);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('split-heron-word');
    // Handed over whole: in auth's recordings, no longer in the proxy's.
    const day = new Date(session!.startedAt).toISOString().slice(0, 10);
    expect(existsSync(join(k.stack.dataDir, 'auth', 'recordings', day, recordingName(session!.id)))).toBe(true);
    expect(existsSync(join(k.stack.dataDir, 'recordings', day, recordingName(session!.id)))).toBe(false);
    const events = (await cliJson<AuditEvent[]>(['audit', 'search', '--session', session!.id], carol)).map((e) => e.type).sort();
    expect(events).toEqual(['kube.request', 'session.end', 'session.start']);
  });

  it('audits requests with the client IP the proxy saw, and the chain verifies', async () => {
    await expect
      .poll(async () => (await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--type', 'kube.request', '--outcome', 'failure'], carol)).length, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const [refused] = await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--type', 'kube.request', '--outcome', 'failure'], carol);
    expect(refused).toMatchObject({ clientIp: '127.0.0.1', fields: { resource: 'secrets', status: 403 } });
    const logins = await cliJson<AuditEvent[]>(['audit', 'search', '--user', 'alice', '--type', 'cert.issued'], carol);
    expect(logins[0]?.clientIp).toBe('127.0.0.1');
    const verify = await cli(['audit', 'verify'], carol);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it('ends alice\'s watch when bob locks her, within a second, and lets her back after', async () => {
    const watch = startKubectl(kubectl133, ['get', 'pods', '-w'], k.env);
    await watch.waitFor(/web-1/);
    const added = await cli(['lock', 'add', '--user', 'alice', '--message', 'split incident', '--format', 'json'], bob);
    expect(added.code, added.stderr).toBe(0);
    const lockedAt = Date.now();
    await watch.waitFor(/access locked for user alice: split incident/, 5_000);
    expect(Date.now() - lockedAt).toBeLessThan(1_000);
    const refused = await runKubectl(kubectl133, ['get', 'pods'], { env: k.env, timeoutMs: 30_000 });
    expect(refused.stderr).toContain('split incident');
    const { id } = JSON.parse(added.stdout) as { id: string };
    expect((await cli(['lock', 'rm', id], bob)).code).toBe(0);
    await expect.poll(async () => (await runKubectl(kubectl133, ['get', 'pods'], { env: k.env, timeoutMs: 30_000 })).code, { timeout: 5_000 }).toBe(0);
    await watch.stop();
  });
});

describe('who may speak for a proxy', () => {
  it('does not forward the internal API: not even with a user certificate', async () => {
    const tls = await userTls(bob.ZTSH_HOME!);
    const dispatcher = new Agent({ connect: { ca: k.stack.tlsCa, ...tls } });
    for (const path of ['/v1/internal/watch', '/v1/internal/sessions/unfinished']) {
      const res = await fetch(new URL(path, k.stack.url), { dispatcher });
      expect(res.status, path).toBe(404);
    }
    await dispatcher.close();
  });

  it('answers the internal API only to a proxy certificate', async () => {
    const auth = k.stack.split!.auth;
    const authCa = auth.tls.selfSignedCa!;
    const anonymous = await fetch(new URL('/v1/internal/watch', auth.url), { dispatcher: new Agent({ connect: { ca: authCa } }) });
    expect(anonymous.status).toBe(403);
    // An agent's host certificate is no proxy's.
    const { token } = ztshdTokens(['--type', 'agent', '--cluster', 'elsewhere']);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const joined = await join_({ token, cluster: 'elsewhere', publicKey: publicKey.export({ type: 'spki', format: 'pem' }) });
    expect(joined.status).toBe(200);
    const asAgent = new Agent({ connect: { ca: authCa, cert: joined.json.certificate!, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string } });
    const res = await fetch(new URL('/v1/internal/sessions/unfinished', auth.url), { dispatcher: asAgent });
    expect(res.status).toBe(403);
    await asAgent.close();
  });

  it('ignores forwarding headers from anyone but a proxy', async () => {
    // alice, straight to auth, claims to forward bob's (admin) certificate.
    const auth = k.stack.split!.auth;
    const alice = await userTls(k.home);
    const bobs = await userTls(bob.ZTSH_HOME!);
    const der = Buffer.from(bobs.cert.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
    const dispatcher = new Agent({ connect: { ca: auth.tls.selfSignedCa!, ...alice } });
    const res = await fetch(new URL('/v1/locks', auth.url), {
      dispatcher,
      headers: { [FORWARDED_HEADERS.clientIp]: '203.0.113.9', [FORWARDED_HEADERS.clientCert]: der },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/alice lacks the "admin" permission/);
    await dispatcher.close();
    // Through the proxy, the header a client sends is replaced by what the proxy saw.
    const viaProxy = new Agent({ connect: { ca: k.stack.tlsCa, ...alice } });
    const spoofed = await fetch(new URL('/v1/locks', k.stack.url), { dispatcher: viaProxy, headers: { [FORWARDED_HEADERS.clientCert]: der } });
    expect(spoofed.status).toBe(403);
    await viaProxy.close();
  });

  it('keeps token types apart: a proxy token joins no agent, an agent token no proxy', async () => {
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    const proxyToken = ztshdTokens(['--type', 'proxy']).token;
    const asAgent = await join_({ token: proxyToken, cluster: 'sandbox', publicKey });
    expect(asAgent.status).toBe(403);
    const agentToken = ztshdTokens(['--type', 'agent', '--cluster', 'sandbox']).token;
    const asProxy = await join_({ token: agentToken, role: 'proxy', publicKey });
    expect(asProxy.status).toBe(403);
    expect(asProxy.json.error!.message).toMatch(/not valid for a proxy/);
    // The right pairing works, once.
    expect((await join_({ token: proxyToken, role: 'proxy', publicKey })).status).toBe(200);
    expect((await join_({ token: proxyToken, role: 'proxy', publicKey })).status).toBe(403);
  });

  it('keeps its identity across restarts: no token needed the second time', async () => {
    const auth = k.stack.split!.auth;
    const identity = await ensureProxyIdentity({
      authServer: auth.url,
      authCa: auth.tls.selfSignedCa!,
      dir: join(k.stack.dataDir, 'proxy-identity'),
      token: () => undefined,
      now: () => new Date(),
    });
    expect(identity.cert).toContain('BEGIN CERTIFICATE');
    expect(identity.notAfter.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3_600_000);
  });

  it('refuses to serve once auth has been silent too long', async () => {
    const auth = k.stack.split!.auth;
    const identity = await ensureProxyIdentity({ authServer: auth.url, authCa: auth.tls.selfSignedCa!, dir: join(k.stack.dataDir, 'proxy-identity'), token: () => undefined, now: () => new Date() });
    let now = Date.now();
    const client = httpAuthClient({
      server: auth.url,
      ca: auth.tls.selfSignedCa!,
      credentials: identity,
      recordingsDir: mkdtempSync(join(tmpdir(), 'ztsh-spool-')),
      log: pino({ level: 'silent' }),
      now: () => now,
    });
    try {
      await client.ready(10_000);
      expect(client.unavailable()).toBeUndefined();
      expect(client.roles(['developer']).map((r) => r.metadata.name)).toEqual(['developer']);
      now += STALE_MS + 1_000;
      expect(client.unavailable()).toMatch(/lost touch with the auth service for \d+ s/);
    } finally {
      await client.close();
    }
  });
});
