// Access requests from the user's side, with the real CLI against a real
// stack: alice asks for prod-admin, bob approves from the CLI, alice's
// `ztsh login --request-id` gets a certificate for the same key that carries
// the request; carol may not approve her own; a denied request gives
// nothing; a dropped one cannot be approved; `ztsh kube login` on a cluster
// only a request would reach names the exact `ztsh request create` command.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromCertificate, type AccessRequestInfo } from '@ztsh/protocol';
import { ZtshHome } from '@ztsh/cli';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { requestRoles } from './helpers/access-request-roles.ts';

const [, bob, carol] = DEV_USERS as [(typeof DEV_USERS)[0], (typeof DEV_USERS)[0], (typeof DEV_USERS)[0]];

let k: KubeEnv;
let aliceEnv: Record<string, string>;
let bobEnv: Record<string, string>;
let carolEnv: Record<string, string>;

beforeAll(async () => {
  k = await startKubeEnv({ roles: requestRoles() });
  await k.addAgent('prod', { env: 'prod' });
  aliceEnv = k.env as Record<string, string>;
  bobEnv = await loggedInEnv(k.stack, bob);
  carolEnv = await loggedInEnv(k.stack, carol);
}, 120_000);
afterAll(async () => {
  await k?.close();
});

const profileDir = (home: string) => new ZtshHome(home).profileDir(k.stack.url);
const certOf = (home: string) => new X509Certificate(readFileSync(join(profileDir(home), 'cert.pem'), 'utf8'));
const keyOf = (home: string) => readFileSync(join(profileDir(home), 'key.pem'), 'utf8');

async function create(env: Record<string, string>, args: string[]): Promise<AccessRequestInfo> {
  return cliJson<AccessRequestInfo>(['request', 'create', ...args], env);
}

describe('ztsh kube login on a cluster only a request reaches', () => {
  it('ends with the exact ztsh request create command', async () => {
    const r = await cli(['kube', 'login', 'prod'], aliceEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: cluster "prod": your roles do not reach it, but you may ask for a role that does');
    expect(r.stderr).toContain('\nhint: ztsh request create --roles prod-admin --reason "..."\n');
  });

  it('keeps the plain refusal for a cluster no request would reach', async () => {
    const r = await cli(['kube', 'login', 'nowhere'], aliceEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cluster "nowhere" not found, or your roles do not reach it');
    expect(r.stderr).not.toContain('ztsh request create');
  });
});

describe('alice asks, bob approves, alice logs in with the request', () => {
  let request: AccessRequestInfo;

  it('creates a pending request and says what to run once approved', async () => {
    const r = await cli(['request', 'create', '--roles', 'prod-admin', '--reason', 'INC-42 restart the api', '--duration', '1h'], aliceEnv);
    expect(r.code, r.stderr).toBe(0);
    const id = /^Request (\S+) created: role prod-admin for 1h, waiting for 0 of 1 approval\.$/m.exec(r.stdout)?.[1];
    expect(id, r.stdout).toBeDefined();
    expect(r.stdout).toContain(`Once approved: ztsh login --request-id ${id}`);
    request = await cliJson<AccessRequestInfo>(['request', 'show', id!], aliceEnv);
    expect(request).toMatchObject({ id, user: 'alice', roles: ['prod-admin'], state: 'pending', reason: 'INC-42 restart the api', durationMs: 3_600_000, reviewable: false });
  });

  it('lists it for alice and, as reviewable, for bob', async () => {
    const mine = await cli(['request', 'ls', '--state', 'pending'], aliceEnv);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toMatch(/^ID\s+USER\s+ASKED FOR\s+STATE\s+CREATED\s+UNTIL\s+REASON$/m);
    expect(mine.stdout).toMatch(new RegExp(`^${request.id}\\s+alice\\s+role prod-admin\\s+pending\\s+.*1h once approved\\s+INC-42 restart the api$`, 'm'));
    const theirs = await cliJson<AccessRequestInfo[]>(['request', 'ls', '--state', 'pending'], bobEnv);
    expect(theirs.find((r) => r.id === request.id)).toMatchObject({ user: 'alice', reviewable: true });
    const text = await cli(['request', 'show', request.id], bobEnv);
    expect(text.stdout).toMatch(/State:\s+pending \(you may review\)/);
    expect(text.stdout).toMatch(/Reason:\s+INC-42 restart the api/);
  });

  it('alice cannot approve her own request', async () => {
    const r = await cli(['request', 'review', request.id, '--approve', '--reason', 'me'], aliceEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: /);
    expect((await cliJson<AccessRequestInfo>(['request', 'show', request.id], aliceEnv)).state).toBe('pending');
  });

  it('bob approves it from the CLI', async () => {
    const r = await cli(['request', 'review', request.id, '--approve', '--reason', 'go ahead'], bobEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Approved request ${request.id} of alice (role prod-admin).`);
    expect(r.stdout).toContain(`It is approved: alice may use it until`);
    request = await cliJson<AccessRequestInfo>(['request', 'show', request.id], aliceEnv);
    expect(request.state).toBe('approved');
    expect(request.reviews).toMatchObject([{ reviewer: 'bob', decision: 'approve', reason: 'go ahead' }]);
  });

  it('ztsh login --request-id re-issues the certificate for the same key, carrying the request, ending by its end', async () => {
    const keyBefore = keyOf(k.home);
    const before = certOf(k.home);
    const r = await cli(['login', '--request-id', request.id], aliceEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Certificate re-issued for alice with access request ${request.id} (prod-admin).`);
    expect(keyOf(k.home)).toBe(keyBefore);
    const after = certOf(k.home);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.publicKey.export({ format: 'der', type: 'spki' }).equals(before.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    const identity = identityFromCertificate(new Uint8Array(after.raw))!;
    expect(identity.roles).toEqual(['developer']);
    expect(identity.accessRequests).toEqual([expect.objectContaining({ id: request.id, roles: ['prod-admin'] })]);
    expect(new Date(after.validTo).getTime()).toBeLessThanOrEqual(Date.parse(request.accessUntil!));
    expect(new Date(after.validTo).getTime()).toBeLessThanOrEqual(new Date(before.validTo).getTime());
    const status = await cli(['status'], aliceEnv);
    expect(status.stdout).toMatch(/Roles:\s+developer\n/);
    expect(status.stdout).toContain(`Requested:    prod-admin (request ${request.id})`);
    // The kube file kubectl reads holds the new pair.
    expect(readFileSync(new ZtshHome(k.home).credentialFile(k.stack.url), 'utf8')).toContain(after.toString().trim());
  });

  it('the elevated certificate reaches prod: ztsh kube login prod writes its context', async () => {
    const r = await cli(['kube', 'login', 'prod'], aliceEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('-prod" written to');
  });
});

describe('requests that give nothing', () => {
  it('carol may review requests, but not approve her own', async () => {
    const own = await create(carolEnv, ['--roles', 'prod-admin', '--reason', 'audit prod']);
    expect(own.reviewable).toBe(false);
    const r = await cli(['request', 'review', own.id, '--approve', '--reason', 'self'], carolEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .+/);
    expect((await cliJson<AccessRequestInfo>(['request', 'show', own.id], carolEnv)).state).toBe('pending');
    const log = await k.stack.ztshd.auth.storage.audit.search({ user: 'carol', type: 'access_request.review', limit: 5 });
    expect(log.some((e) => !e.success && e.fields.accessRequest === own.id)).toBe(true);
  });

  it('a denied request: bob denies, alice\'s login --request-id is refused and her certificate stays', async () => {
    const asked = await create(aliceEnv, ['--roles', 'prod-admin', '--reason', 'just curious']);
    const denied = await cli(['request', 'review', asked.id, '--deny', '--reason', 'no incident'], bobEnv);
    expect(denied.code, denied.stderr).toBe(0);
    expect(denied.stdout).toContain('It is denied.');
    const cert = certOf(k.home).toString();
    const r = await cli(['login', '--request-id', asked.id], aliceEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: /);
    expect(certOf(k.home).toString()).toBe(cert);
  });

  it('a pending request cannot be used yet, and a dropped one cannot be approved', async () => {
    const asked = await create(aliceEnv, ['--roles', 'prod-admin', '--reason', 'later']);
    const early = await cli(['login', '--request-id', asked.id], aliceEnv);
    expect(early.code).toBe(1);
    const dropped = await cli(['request', 'drop', asked.id], aliceEnv);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toContain(`Request ${asked.id} dropped.`);
    expect((await cliJson<AccessRequestInfo>(['request', 'show', asked.id], aliceEnv)).state).toBe('dropped');
    const late = await cli(['request', 'review', asked.id, '--approve', '--reason', 'ok'], bobEnv);
    expect(late.code).toBe(1);
    const listed = await cliJson<AccessRequestInfo[]>(['request', 'ls', '--state', 'dropped'], aliceEnv);
    expect(listed.map((r) => r.id)).toContain(asked.id);
  });

  it('bob cannot drop alice\'s request', async () => {
    const asked = await create(aliceEnv, ['--roles', 'prod-admin', '--reason', 'mine to drop']);
    const r = await cli(['request', 'drop', asked.id], bobEnv);
    expect(r.code).toBe(1);
    expect((await cliJson<AccessRequestInfo>(['request', 'show', asked.id], aliceEnv)).state).toBe('pending');
  });
});

describe('what the CLI refuses before asking (exit 2)', () => {
  it.each([
    [['request', 'create', '--reason', 'x'], /ask for at least one role or one resource/],
    [['request', 'create', '--roles', 'prod-admin'], /--reason: a reason is required/],
    [['request', 'create', '--roles', 'prod-admin', '--reason', 'x', '--duration', '2 hours'], /--duration: must look like 30m, 2h or 3d/],
    [['request', 'create', '--resource', 'prod/pod/default/web-1', '--reason', 'x'], /--resource: resource "prod\/pod\/default\/web-1" must look like/],
    [['request', 'create', '--resource', '/prod/deployment/default/web', '--reason', 'x'], /only pods can be requested one by one/],
    [['request', 'review', 'abc', '--approve', '--deny', '--reason', 'x'], /give exactly one of --approve and --deny/],
    [['request', 'review', 'abc', '--approve'], /--reason: a reason is required/],
    [['request', 'show', '../locks'], /is not a request id/],
    [['login', '--request-id', '../x'], /--request-id "..\/x" is not a request id/],
    [['login', '--request-id', 'abc', '--headless'], /takes no sign-in options/],
    [['request', 'ls', '--state', 'open'], /Allowed choices are pending, approved, denied, dropped, expired/],
  ])('ztsh %j', async (args, message) => {
    const r = await cli(args, aliceEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
