// Item 14 of the security review: kubectl auth can-i is answered by the
// proxy from ztsh's roles and never forwarded, so the answer is what ztsh
// will allow.
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest } from './helpers/raw-client.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
});
afterAll(() => k?.close());

for (const version of ['1.33', '1.30']) {
  describe(`item 14: kubectl ${version} auth can-i`, () => {
    const bin = findKubectl(version, process.env.PATH)!;
    const canI = (args: string[]) => runKubectl(bin, ['auth', 'can-i', ...args], { env: k.env as Record<string, string>, timeoutMs: 30_000 });

    it('answers from ztsh\'s roles, and nothing reaches the cluster', async () => {
      const before = k.kube.requests.length;
      const pods = await canI(['get', 'pods']);
      expect(pods.stdout.trim(), pods.stderr).toBe('yes');
      const secrets = await canI(['get', 'secrets']);
      expect(secrets.stdout.trim()).toMatch(/^no\b/);
      expect(secrets.code).not.toBe(0);
      const deploy = await canI(['create', 'deployments', '-n', 'kube-system']);
      expect(deploy.stdout.trim()).toMatch(/^no\b/);
      const list = await canI(['--list']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/pods/);
      expect(k.kube.requests.slice(before).filter((r) => r.path.includes('selfsubject'))).toEqual([]);
    });
  });
}

it('item 14: a review body past the limit is refused, and the user and groups it names are not judged', async () => {
  const before = k.kube.requests.length;
  const big = await rawRequest(k.stack, {
    method: 'POST',
    path: '/k8s/sandbox/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    as: k.alice,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: { resourceAttributes: { verb: 'get', resource: 'pods' } }, pad: 'x'.repeat(100_000) }),
  });
  expect(big.status).toBe(413);
  const spoofed = await rawRequest(k.stack, {
    method: 'POST',
    path: '/k8s/sandbox/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    as: k.alice,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: { user: 'bob', groups: ['system:masters'], resourceAttributes: { verb: 'get', resource: 'secrets', namespace: 'default' } } }),
  });
  expect(spoofed.status).toBe(201);
  expect(spoofed.json().status.allowed).toBe(false);
  expect(k.kube.requests.length).toBe(before);
});

for (const version of ['1.33', '1.30']) {
  it(`kubectl ${version} auth whoami names who the cluster sees, answered by the proxy`, async () => {
    const bin = findKubectl(version, process.env.PATH)!;
    const before = k.kube.requests.length;
    const r = await runKubectl(bin, ['auth', 'whoami', '-o', 'json'], { env: k.env as Record<string, string>, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'SelfSubjectReview', status: { userInfo: { username: 'alice', groups: ['developers'], extra: { 'ztsh.dev/user': ['alice'] } } } });
    expect(k.kube.requests.slice(before).filter((q) => q.path.includes('selfsubjectreviews'))).toEqual([]);
  });
}
