// ztsh audit search --request ID: an auditor finds an access request's steps
// and everything done under it, with the real CLI against a real stack.
import { DEV_USERS } from '@ztsh/server';
import type { AuditEvent } from '@ztsh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
let carol: Record<string, string>;
const ID = 'Jq2-xY_8bCdE3fGhI4jKlm';

beforeAll(async () => {
  stack = await startTestStack();
  carol = await loggedInEnv(stack, DEV_USERS[2]!);
  const at = (s: number) => new Date(Date.now() - 60_000 + s * 1000).toISOString();
  await stack.ztshd.auth.storage.audit.appendMany([
    { time: at(1), type: 'access_request.create', code: 'ZA5000I', success: true, user: 'alice', message: 'alice asked for prod-admin', fields: { accessRequest: ID, roles: ['prod-admin'] } },
    { time: at(2), type: 'access_request.review', code: 'ZA5001I', success: true, user: 'bob', message: 'bob approved', fields: { accessRequest: ID } },
    { time: at(3), type: 'kube.request', code: 'ZA2000I', success: true, user: 'alice', fields: { cluster: 'prod', verb: 'get', resource: 'pods', status: 200, accessRequests: [ID] } },
    { time: at(4), type: 'kube.request', code: 'ZA2000I', success: true, user: 'alice', fields: { cluster: 'prod', verb: 'delete', resource: 'pods', status: 200 } },
  ]);
}, 300_000);
afterAll(() => stack?.close());

describe('ztsh audit search --request', () => {
  it('lists the steps of the request and the kube requests made under it, and nothing else', async () => {
    const events = await cliJson<AuditEvent[]>(['audit', 'search', '--request', ID, '--format', 'json'], carol);
    expect(events.map((e) => e.type)).toEqual(['kube.request', 'access_request.review', 'access_request.create']);
    const table = await cli(['audit', 'search', '--request', ID], carol);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('get pods');
    expect(table.stdout).not.toContain('delete pods');
    expect((await cli(['audit', 'search', '--request', 'Jq2-nothing-like-it'], carol)).stdout).toContain('No events match.');
  });

  it('refuses what cannot be a request id before asking the server', async () => {
    const bad = await cli(['audit', 'search', '--request', `${ID}*`], carol);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--request: must be an access request id');
  });
});
