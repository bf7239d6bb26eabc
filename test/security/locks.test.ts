// Items 8 and 9: locks. A locked user learns nothing from GET /v1/clusters
// (403 with the lock's message, audited). An admin cannot lock himself out,
// nor the role that makes him admin; and when every admin is locked out
// anyway, `ztshd locks ls|rm` on the server's store is the way back.
import { spawn } from 'node:child_process';
import { ZtshHome } from '@ztsh/cli';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@ztsh/protocol';
import { cli } from '../helpers/cli.ts';
import { loggedInEnv } from '../helpers/profile.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { credentialsOf, rawRequest, type Credentials, type Target } from './helpers/raw-client.ts';
import { ZTSHD } from '../helpers/source-bins.ts';


let stack: TestStack;
let bobEnv: Record<string, string>;
let bob: Credentials;
let alice: Credentials;

beforeAll(async () => {
  stack = await startTestStack();
  bobEnv = await loggedInEnv(stack, DEV_USERS[1]!);
  const files = new ZtshHome(bobEnv.ZTSH_HOME!).readProfile(stack.url)!;
  bob = { cert: files.certPem, key: files.keyPem };
  alice = await credentialsOf(target(), 'alice');
});
afterAll(() => stack?.close());

function target(): Target {
  return { url: stack.url, tlsCa: stack.tlsCa };
}

const locks = () => stack.ztshd.auth.deps.locks;
const auditOf = (): Promise<AuditEvent[]> => stack.ztshd.auth.storage.audit.list({ limit: 100_000 });

function postLock(as: Credentials, body: Record<string, unknown>) {
  return rawRequest(target(), { method: 'POST', path: '/v1/locks', as, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

function ztshd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...ZTSHD, ...args, '--data-dir', stack.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Resolves when the running ztshd's lock set changes (a change in the store reaches it by itself). */
function nextLockChange(): Promise<void> {
  return new Promise((resolve) => {
    const stop = locks().subscribe(() => {
      stop();
      resolve();
    });
  });
}

describe('item 9: an admin cannot lock himself out', () => {
  it('item 9: a lock on his own user is refused with 409 and audited, and no lock is made', async () => {
    const res = await postLock(bob, { user: 'bob', message: 'oops' });
    expect(res.status).toBe(409);
    expect(res.json().error.code).toBe('conflict');
    expect(res.json().error.message).toMatch(/lock you out yourself/);
    expect(res.json().error.hint).toMatch(/ztshd locks rm/);
    expect(locks().list()).toEqual([]);
    const refused = (await auditOf()).filter((e) => e.type === 'lock.created' && !e.success);
    expect(refused.at(-1)).toMatchObject({ user: 'bob', fields: { target: { user: 'bob' }, reason: 'self_lock' } });
  });

  it('item 9: a lock on the role that makes him admin (the only admin role) is refused', async () => {
    const res = await postLock(bob, { role: 'devops-admin' });
    expect(res.status).toBe(409);
    expect(res.json().error.message).toMatch(/devops-admin/);
    expect(locks().list()).toEqual([]);
    // bob still gets in
    expect((await rawRequest(target(), { path: '/v1/locks', as: bob })).status).toBe(200);
  });

  it('item 9: ztsh lock add prints the refusal and exits non-zero', async () => {
    const run = await cli(['lock', 'add', '--user', 'bob'], bobEnv);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/lock you out yourself/);
    expect(locks().list()).toEqual([]);
  });

  it('item 9: a lock with a ttl beyond any date is a 400, not a lock', async () => {
    const res = await postLock(bob, { user: 'alice', ttl: '99999999999999999999h' });
    expect(res.status).toBe(400);
    expect(locks().list()).toEqual([]);
  });
});

describe('item 8: a locked user gets no cluster list', () => {
  it('item 8: GET /v1/clusters answers 403 with the lock message, and the refusal is audited', async () => {
    expect((await rawRequest(target(), { path: '/v1/clusters', as: alice })).status).toBe(200);
    const added = await postLock(bob, { user: 'alice', message: 'incident 42' });
    expect(added.status).toBe(201);
    const lockId = added.json().id as string;
    const res = await rawRequest(target(), { path: '/v1/clusters', as: alice });
    expect(res.status).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'locked' });
    expect(res.json().error.message).toContain('incident 42');
    expect(res.json().error.message).toContain(lockId);
    expect(res.body).not.toContain('sandbox');
    const refused = (await auditOf()).filter((e) => e.type === 'api.request' && !e.success && e.fields.path === '/v1/clusters');
    expect(refused.at(-1)).toMatchObject({ user: 'alice', fields: { reason: 'locked', status: 403, lockId } });
  });
});

describe('item 9: ztshd locks ls and rm, on the server, when no admin can get in', () => {
  it('item 9: lists the locks in force as JSON and as a table', async () => {
    const json = await ztshd(['locks', 'ls', '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as { id: string; target: unknown; createdBy: string }[];
    expect(rows).toEqual([expect.objectContaining({ target: { user: 'alice' }, createdBy: 'bob' })]);
    const text = await ztshd(['locks', 'ls']);
    expect(text.stdout).toContain(rows[0]!.id);
    expect(text.stdout).toContain('user alice');
  });

  it('item 9: removes a lock that shut every admin out; the running ztshd lets them back in, and the removal is audited', async () => {
    // As if made before this check existed, or by another process on the store.
    const lock = await locks().add({ target: { role: 'devops-admin' }, createdBy: 'mallory', message: 'everyone out' });
    expect((await rawRequest(target(), { path: '/v1/locks', as: bob })).status).toBe(403);
    const changed = nextLockChange();
    const removed = await ztshd(['locks', 'rm', lock.id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(lock.id);
    await changed;
    expect((await rawRequest(target(), { path: '/v1/locks', as: bob })).status).toBe(200);
    const audited = (await auditOf()).filter((e) => e.type === 'lock.removed' && e.fields.lockId === lock.id);
    expect(audited).toHaveLength(1);
    expect(audited[0]!.user).toMatch(/^ztshd:/);
  });

  it('item 9: an unknown lock id is an error that says where to look', async () => {
    const res = await ztshd(['locks', 'rm', 'no-such-lock']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no lock no-such-lock/);
    expect(res.stderr).toMatch(/ztshd locks ls/);
  });
});
