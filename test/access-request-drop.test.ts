// Dropping an approved request ends what it lent at once, with the real
// kubectl: alice, elevated to prod-admin, watches pods on prod; she drops the
// request and the watch ends with the lock's message, the next call with
// that certificate is refused the same way, and `ztsh lock ls` shows the
// lock on the request. The lock is on the request, not on alice: a fresh
// login reaches her own clusters again (and prod no longer).
import type { AccessRequestInfo, AuditEvent, LockInfo } from '@ztsh/protocol';
import { ManualClock } from '@ztsh/auth';
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl, startKubectl, type RunningKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRoles } from './helpers/access-request-roles.ts';
import { elevateToProdAdmin } from './helpers/access-request-flow.ts';
import { cli, cliJson } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { loggedInEnv, storeLogin } from './helpers/profile.ts';

const [alice, bob] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];
const kubectl133 = findKubectl('1.33', process.env.PATH)!;
// alice logs in twice: the second TOTP code must be for a later step than the first.
const clock = new ManualClock(Date.now());

let k: KubeEnv;
let aliceEnv: Record<string, string>;
let bobEnv: Record<string, string>;
let request: AccessRequestInfo;

beforeAll(async () => {
  k = await startKubeEnv({ roles: requestRoles(), stack: { clock } });
  await k.addAgent('prod', { env: 'prod' });
  k.kube.addPod('default', 'web-1');
  aliceEnv = k.env as Record<string, string>;
  bobEnv = await loggedInEnv(k.stack, bob);
}, 120_000);
afterAll(async () => {
  await k?.close();
});

const kubectl = (args: string[]) => runKubectl(kubectl133, args, { env: aliceEnv, timeoutMs: 60_000 });
const context = (cluster: string) => `${k.stack.url.hostname}-${cluster}`;
const exitOf = (w: RunningKubectl) => new Promise<number | null>((r) => (w.child.exitCode !== null ? r(w.child.exitCode) : w.child.on('close', (code) => r(code))));
const audit = (): Promise<AuditEvent[]> => k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 });

describe('alice drops her approved request while a watch runs under it', () => {
  it('alice is elevated to prod-admin and watches pods on prod', async () => {
    request = await elevateToProdAdmin(aliceEnv, bobEnv, 'INC-7');
    const pods = await kubectl(['get', 'pods', '-o', 'name']);
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout.trim()).toBe('pod/web-1');
  });

  it('the drop ends the watch with the lock message, and the next call on that certificate is refused', async () => {
    const watch = startKubectl(kubectl133, ['--context', context('prod'), 'get', 'pods', '-w'], aliceEnv);
    await watch.waitFor(/web-1/, 60_000);
    await expect.poll(() => k.stack.ztshd.proxy.liveStreams.size, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);

    const dropped = await cli(['request', 'drop', request.id], aliceEnv);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toContain('locked out now');
    const message = `access request ${request.id} was dropped by alice`;
    await exitOf(watch);
    expect(watch.output()).toContain(message);

    const refused = await kubectl(['--context', context('prod'), 'get', 'pods']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(message);
    // The whole certificate is locked, as Teleport locks a certificate issued under a request: its own roles too.
    const sandbox = await kubectl(['--context', context('sandbox'), 'get', 'pods']);
    expect(sandbox.code).not.toBe(0);
    expect(sandbox.stderr).toContain(message);
  }, 120_000);

  it('ztsh lock ls shows the lock on the request, ending when the request would have', async () => {
    const locks = await cliJson<LockInfo[]>(['lock', 'ls'], bobEnv);
    const lock = locks.find((l) => 'accessRequest' in l.target && l.target.accessRequest === request.id);
    expect(lock).toMatchObject({ createdBy: 'alice', message: `access request ${request.id} was dropped by alice`, expiresAt: new Date(Date.parse(request.accessUntil ?? '')).toISOString() });
    const text = await cli(['lock', 'ls'], bobEnv);
    expect(text.stdout).toContain(`access request ${request.id}`);
    const events = await audit();
    expect(events.find((e) => e.type === 'lock.created' && e.success && e.fields.lockId === lock!.id)).toMatchObject({ user: 'alice', fields: { target: { accessRequest: request.id } } });
    expect(events.find((e) => e.type === 'access_request.drop' && e.success && e.fields.accessRequest === request.id)).toMatchObject({ fields: { from: 'approved', lockId: lock!.id } });
    expect(events.filter((e) => e.type === 'kube.request' && !e.success && e.fields.reason === 'locked').at(-1)).toMatchObject({ user: 'alice', fields: { accessRequests: [request.id] } });
  });

  it('the lock is not on alice: a fresh login reaches her own cluster, and prod no longer', async () => {
    clock.advance(31_000);
    storeLogin(aliceEnv.ZTSH_HOME!, k.stack.url, k.stack.tlsCa, await httpLogin(k.stack.url, k.stack.tlsCa, alice, clock.now().getTime()));
    const sandbox = await kubectl(['--context', context('sandbox'), 'get', 'pods', '-o', 'name']);
    expect(sandbox.code, sandbox.stderr).toBe(0);
    const prod = await kubectl(['--context', context('prod'), 'get', 'pods']);
    expect(prod.code).not.toBe(0);
    expect(prod.stderr).toContain('no role of alice allows cluster prod');
    // A dropped request is not re-issued again.
    const again = await cli(['login', '--request-id', request.id], aliceEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('dropped');
  }, 120_000);
});
