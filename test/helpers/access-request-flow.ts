// The whole elevation, as alice and bob type it: alice asks for prod-admin
// for 1h, bob approves from the CLI, alice re-issues her certificate with the
// request and points kubectl at prod. Each step must succeed.
import type { AccessRequestInfo } from '@ztsh/protocol';
import { expect } from 'vitest';
import { cli, cliJson } from './cli.ts';

export async function elevateToProdAdmin(aliceEnv: Record<string, string>, bobEnv: Record<string, string>, reason: string): Promise<AccessRequestInfo> {
  let request = await cliJson<AccessRequestInfo>(['request', 'create', '--roles', 'prod-admin', '--reason', reason, '--duration', '1h'], aliceEnv);
  const approved = await cli(['request', 'review', request.id, '--approve', '--reason', `${reason} is real`], bobEnv);
  expect(approved.code, approved.stderr).toBe(0);
  request = await cliJson<AccessRequestInfo>(['request', 'show', request.id], aliceEnv);
  expect(request.state).toBe('approved');
  const login = await cli(['login', '--request-id', request.id], aliceEnv);
  expect(login.code, login.stderr).toBe(0);
  const kubeLogin = await cli(['kube', 'login', 'prod'], aliceEnv);
  expect(kubeLogin.code, kubeLogin.stderr).toBe(0);
  return request;
}
