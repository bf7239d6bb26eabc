// Join tokens: `ztshd tokens add|ls|rm` on the local store, and POST /v1/join
// trading a token for a host certificate, bound to one cluster, with limited uses.
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromCertificate } from '@ztsh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, newLoginKeys } from './helpers/http-login.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { ZTSHD } from './helpers/source-bins.ts';

let stack: TestStack;
let api: ReturnType<typeof apiClient>;

function ztshd(...args: string[]) {
  const r = spawnSync(process.execPath, [...ZTSHD, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function addToken(...extra: string[]): { token: string; id: string } {
  const r = ztshd('tokens', 'add', '--type', 'agent', '--data-dir', stack.dataDir, '--format', 'json', ...extra);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  stack = await startTestStack();
  api = apiClient(stack.url, stack.tlsCa);
});
afterAll(() => stack?.close());

const joinAs = (token: string, cluster: string) => api.post('/v1/join', { token, cluster, publicKey: newLoginKeys().publicKey, hostname: 'agent-0' });

describe('join tokens', () => {
  it('a token for cluster A joins A once, and gets a host certificate from the host CA', async () => {
    const { token, id } = addToken('--cluster', 'prod');
    expect(token).toMatch(/^ztsh_join_[\w-]{43}$/);
    const joined = await joinAs(token, 'prod');
    expect(joined.status).toBe(200);
    const cert = new X509Certificate(joined.json.certificate);
    const hostCa = new X509Certificate(readFileSync(join(stack.dataDir, 'ca', 'host-ca.crt')));
    expect(cert.verify(hostCa.publicKey)).toBe(true);
    expect(identityFromCertificate(new Uint8Array(cert.raw))).toMatchObject({ host: { role: 'agent', cluster: 'prod' }, connector: 'join-token', loginId: id });

    const again = await joinAs(token, 'prod');
    expect(again.status).toBe(403);
    expect(again.json.error.code).toBe('token_invalid');
    const reasons = (await stack.ztshd.auth.storage.audit.list()).filter((e) => e.type === 'agent.join' && !e.success).map((e) => e.fields.reason);
    expect(reasons).toContain('used');
  });

  it('a token for cluster A cannot join as cluster B, and says nothing that helps a guesser', async () => {
    const { token } = addToken('--cluster', 'staging', '--uses', '0');
    const wrong = await joinAs(token, 'prod');
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.message).toBe('the join token is not valid for this cluster');
    const unknown = await joinAs('ztsh_join_nope', 'prod');
    expect(unknown.json.error.message).toBe(wrong.json.error.message);
    // Unlimited uses: it still joins its own cluster, twice.
    expect((await joinAs(token, 'staging')).status).toBe(200);
    expect((await joinAs(token, 'staging')).status).toBe(200);
  });

  it('ls shows tokens without the secret; rm deletes; a removed token no longer joins', async () => {
    const { token, id } = addToken('--cluster', 'dev', '--ttl', '30m', '--uses', '3');
    const ls = ztshd('tokens', 'ls', '--data-dir', stack.dataDir, '--format', 'json');
    const row = JSON.parse(ls.stdout).find((r: { id: string }) => r.id === id);
    expect(row).toMatchObject({ type: 'agent', cluster: 'dev', usesLeft: 3, expired: false });
    expect(ls.stdout).not.toContain(token);
    expect(ztshd('tokens', 'rm', id, '--data-dir', stack.dataDir).stdout).toBe(`Join token ${id} deleted.\n`);
    expect((await joinAs(token, 'dev')).status).toBe(403);
    const again = ztshd('tokens', 'rm', id, '--data-dir', stack.dataDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no join token with id/);
    // New ids never start with "-"; one that does (made before) is reached after "--", not read as options.
    const dashed = ztshd('tokens', 'rm', '--data-dir', stack.dataDir, '--', '-Vtnp7z0');
    expect(dashed.code).toBe(1);
    expect(dashed.stderr).toMatch(/no join token with id "?-Vtnp7z0/);
  });

  it('refuses bad arguments with the reason', () => {
    expect(ztshd('tokens', 'add', '--type', 'agent', '--cluster', 'Prod_1', '--data-dir', stack.dataDir).stderr).toMatch(/--cluster "Prod_1": must be lowercase/);
    expect(ztshd('tokens', 'add', '--type', 'agent', '--cluster', 'x', '--ttl', 'soon', '--data-dir', stack.dataDir).stderr).toMatch(/--ttl: "soon" is not a duration/);
    expect(ztshd('tokens', 'ls').stderr).toMatch(/--config ztsh.yaml or --data-dir DIR/);
  });
});
