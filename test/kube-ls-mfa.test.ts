// ztsh kube ls says which clusters require session MFA of this user before
// kubectl asks: an MFA column ("session" or "-"), and sessionMfa in JSON.
// alice's prod-reader role requires it on env=prod; bob's roles do not.
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { startSessionMfaEnv, type SessionMfaEnv } from './helpers/session-mfa-env.ts';

let k: SessionMfaEnv;
beforeAll(async () => {
  k = await startSessionMfaEnv();
}, 300_000);
afterAll(() => k?.close());

describe('ztsh kube ls and session MFA', () => {
  it('marks prod-a and prod-b "session" for alice, the sandbox "-"', async () => {
    const ls = await cli(['kube', 'ls'], k.env as Record<string, string>);
    expect(ls.code, ls.stderr).toBe(0);
    const lines = ls.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CLUSTER\s+STATUS\s+MFA\s+LABELS$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `));
    expect(row('prod-a')).toMatch(/^prod-a\s+online\s+session\s+env=prod$/);
    expect(row('prod-b')).toMatch(/^prod-b\s+online\s+session\s+env=prod$/);
    expect(row('sandbox')).toMatch(/^sandbox\s+online\s+-\s+env=sandbox$/);
    const json = await cliJson<{ name: string; sessionMfa?: boolean }[]>(['kube', 'ls'], k.env as Record<string, string>);
    expect(Object.fromEntries(json.map((c) => [c.name, c.sessionMfa ?? false]))).toEqual({ 'prod-a': true, 'prod-b': true, sandbox: false });
  });

  it('marks nothing for bob, whose roles do not require it', async () => {
    const bobEnv = await loggedInEnv(k.stack, DEV_USERS[1]!);
    const ls = await cli(['kube', 'ls'], bobEnv);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^prod-a\s+online\s+-\s+env=prod$/m);
    expect(ls.stdout).not.toContain('session');
  });
});
