// Item 11 of the security review: identity headers an apiserver set up for
// an authenticating front proxy would believe never reach the cluster.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest } from './helpers/raw-client.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

it('item 11: X-Remote-User, X-Remote-Group and X-Remote-Extra-* from a client are dropped by the proxy and the agent', async () => {
  const before = k.kube.requests.length;
  const answer = await rawRequest(k.stack, {
    path: '/k8s/sandbox/api/v1/namespaces/default/pods',
    as: k.alice,
    headers: {
      'X-Remote-User': 'system:admin',
      'x-remote-group': 'system:masters',
      'X-REMOTE-EXTRA-scopes': 'everything',
      'Impersonate-User': 'system:admin',
      'Impersonate-Extra-Scopes': 'x',
      Authorization: 'Bearer stolen',
    },
  });
  // Impersonating system:admin is not in alice's roles: refused before anything is forwarded.
  expect(answer.status).toBe(403);
  expect(k.kube.requests.length).toBe(before);

  const allowed = await rawRequest(k.stack, {
    path: '/k8s/sandbox/api/v1/namespaces/default/pods',
    as: k.alice,
    headers: { 'X-Remote-User': 'system:admin', 'x-remote-group': 'system:masters', 'X-Remote-Extra-Scopes': 'everything', Authorization: 'Bearer stolen' },
  });
  expect(allowed.status).toBe(200);
  const seen = k.kube.requests.slice(before);
  expect(seen).toHaveLength(1);
  expect(Object.keys(seen[0]!.headers).filter((h) => h.startsWith('x-remote-'))).toEqual([]);
  expect(seen[0]!.impersonatedUser).toBe('alice');
  expect(seen[0]!.headers.authorization).not.toBe('Bearer stolen');
});
