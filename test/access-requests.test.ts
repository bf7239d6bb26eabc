// Access requests end to end, with the real kubectl: alice's roles do not
// reach the prod cluster, and kubectl's refusal says which request would.
// She asks for prod-admin for 1h, bob approves from the CLI, and after
// `ztsh login --request-id` kubectl reaches prod; every request there is
// audited with the request's id. A lock on prod-admin ends her elevated
// watch at once; once lifted, the request's end (the certificate's
// notAfter, moved to by the ManualClock) ends a live watch and refuses what
// comes next. carol cannot approve her own request; a denied one gives
// nothing.
import { type AuditEvent, type AccessRequestInfo } from '@ztsh/protocol';
import { ManualClock } from '@ztsh/auth';
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl, startKubectl, type RunningKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elevateToProdAdmin } from './helpers/access-request-flow.ts';
import { cli, cliJson } from './helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { requestRoles } from './helpers/access-request-roles.ts';
import { runOnTty } from './helpers/tty.ts';

const [, bob, carol] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];
const kubectl133 = findKubectl('1.33', process.env.PATH)!;
const kubectl130 = findKubectl('1.30', process.env.PATH)!;
const clock = new ManualClock(Date.now());

let k: KubeEnv;
let aliceEnv: Record<string, string>;
let bobEnv: Record<string, string>;
let carolEnv: Record<string, string>;
let prodServer: string;

beforeAll(async () => {
  k = await startKubeEnv({ roles: requestRoles(), stack: { clock } });
  await k.addAgent('prod', { env: 'prod' });
  k.kube.addPod('default', 'web-1');
  aliceEnv = k.env as Record<string, string>;
  bobEnv = await loggedInEnv(k.stack, bob);
  carolEnv = await loggedInEnv(k.stack, carol);
  prodServer = `${k.stack.url.origin}/k8s/prod`;
}, 120_000);
afterAll(async () => {
  await k?.close();
});

const kubectl = (args: string[], bin = kubectl133) => runKubectl(bin, args, { env: aliceEnv, timeoutMs: 60_000 });
const prodContext = () => `${k.stack.url.hostname}-prod`;
const exitOf = (w: RunningKubectl) => new Promise<number | null>((r) => (w.child.exitCode !== null ? r(w.child.exitCode) : w.child.on('close', (code) => r(code))));
const auditCount = async () => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).length;
const auditSince = async (count: number): Promise<AuditEvent[]> => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).slice(count);

let request: AccessRequestInfo;

describe('before any request', () => {
  it('kubectl on prod is refused, and the refusal names the exact ztsh request create command', async () => {
    // The sandbox context's credentials, pointed at prod: the proxy's own refusal, as kubectl prints it.
    const r = await kubectl(['--server', prodServer, 'get', 'pods']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no role of alice allows cluster prod; to ask for access: ztsh request create --roles prod-admin --reason "..."');
  });

  it('ztsh kube login prod names the same command (GET /v1/clusters lists prod as requestable)', async () => {
    const r = await cli(['kube', 'login', 'prod'], aliceEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('hint: ztsh request create --roles prod-admin --reason "..."');
  });
});

describe('requests that give nothing', () => {
  it('carol cannot approve her own request', async () => {
    const own = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', 'audit prod'], carolEnv);
    const r = await cli(['request', 'review', own.id, '--approve', '--reason', 'self'], carolEnv);
    expect(r.code).toBe(1);
    expect((await cliJson<AccessRequestInfo>(['request', 'show', own.id], carolEnv)).state).toBe('pending');
    expect((await cli(['login', '--request-id', own.id], carolEnv)).code).toBe(1);
  });

  it('a denied request gives alice nothing: no re-issue, kubectl on prod still refused', async () => {
    const asked = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', 'curious'], aliceEnv);
    expect((await cli(['request', 'review', asked.id, '--deny', '--reason', 'no incident'], bobEnv)).code).toBe(0);
    expect((await cli(['login', '--request-id', asked.id], aliceEnv)).code).toBe(1);
    const r = await kubectl(['--server', prodServer, 'get', 'pods']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no role of alice allows cluster prod');
  });
});

describe('alice asks for prod-admin for 1h, bob approves from the CLI', () => {
  it('alice logs in with the approved request, and kubectl 1.33 and 1.30 reach prod', async () => {
    request = await elevateToProdAdmin(aliceEnv, bobEnv, 'INC-42');

    const before = await auditCount();
    const pods = await kubectl(['get', 'pods', '-o', 'name']);
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout.trim()).toBe('pod/web-1');
    const old = await kubectl(['get', 'pods', '-o', 'name'], kubectl130);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stdout.trim()).toBe('pod/web-1');
    // kubectl auth can-i answers from the roles the request lent: alice's developer role may not delete deployments.
    const canI = await kubectl(['auth', 'can-i', 'delete', 'deployments']);
    expect(canI.stdout.trim()).toBe('yes');

    // Every request on prod, discovery included, carries the request's id.
    const onProd = (await auditSince(before)).filter((e) => e.type === 'kube.request' && e.fields.cluster === 'prod');
    expect(onProd.length).toBeGreaterThanOrEqual(3);
    for (const e of onProd) expect(e.fields.accessRequests, JSON.stringify(e.fields)).toEqual([request.id]);
    expect(onProd.every((e) => e.success && e.user === 'alice')).toBe(true);
  });

  it('what alice does with her own roles on the elevated certificate names no request', async () => {
    const before = await auditCount();
    const r = await kubectl(['--context', `${k.stack.url.hostname}-sandbox`, 'get', 'pods', '-o', 'name']);
    expect(r.code, r.stderr).toBe(0);
    const onSandbox = (await auditSince(before)).filter((e) => e.type === 'kube.request');
    expect(onSandbox.length).toBeGreaterThan(0);
    for (const e of onSandbox) expect(e.fields).not.toHaveProperty('accessRequests');
  });

  it('a lock on prod-admin ends the elevated watch at once and refuses the next call; lifted, prod is back', async () => {
    const watch = startKubectl(kubectl133, ['--context', prodContext(), 'get', 'pods', '-w'], aliceEnv);
    await watch.waitFor(/web-1/, 60_000);
    const added = await cli(['lock', 'add', '--role', 'prod-admin', '--message', 'prod freeze', '--format', 'json'], bobEnv);
    expect(added.code, added.stderr).toBe(0);
    const lock = JSON.parse(added.stdout) as { id: string };
    await exitOf(watch);
    expect(watch.output()).toMatch(/Forbidden\s+access locked for role prod-admin: prod freeze/);
    const refused = await kubectl(['--context', prodContext(), 'get', 'pods']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('prod freeze');
    expect((await cli(['lock', 'rm', lock.id], bobEnv)).code).toBe(0);
    const back = await kubectl(['--context', prodContext(), 'get', 'pods', '-o', 'name']);
    expect(back.code, back.stderr).toBe(0);
  });

  it("at the request's end a live watch and exec end and new requests are refused", async () => {
    // stdin stays open: cat runs until the request's end ends it.
    const exec = runOnTty([kubectl133, '--context', prodContext(), 'exec', '-i', 'web-1', '--', 'cat'], aliceEnv);
    exec.type('still-here\n');
    await exec.waitFor(/still-here[\s\S]*still-here/);
    const watch = startKubectl(kubectl133, ['--context', prodContext(), 'get', 'pods', '-w'], aliceEnv);
    await watch.waitFor(/web-1/, 60_000);
    await expect.poll(() => k.stack.ztshd.proxy.liveStreams.size, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    // Past the request's end: the certificate's notAfter is at most accessUntil.
    clock.advance(Date.parse(request.accessUntil!) - clock.now().getTime() + 1_000);
    await exitOf(watch);
    expect(watch.output()).toMatch(/certificate expired/);
    expect(await exec.exited).not.toBe(0);
    expect(exec.output()).toMatch(/certificate expired/);
    await expect
      .poll(async () => (await k.stack.ztshd.auth.storage.sessions.search({ user: 'alice', limit: 10 })).find((s) => s.command.join(' ') === 'cat')?.endReason)
      .toBe('expired');
    const refused = await kubectl(['--context', prodContext(), 'get', 'pods']);
    expect(refused.code).not.toBe(0);
    const last = (await k.stack.ztshd.auth.storage.audit.search({ user: 'alice', type: 'kube.request', limit: 1 }))[0]!;
    expect(last).toMatchObject({ success: false, fields: { reason: 'expired', certificateExpired: true, accessRequests: [request.id] } });
  }, 120_000);
});
