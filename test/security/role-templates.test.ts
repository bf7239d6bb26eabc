// Item 13: role templates. A role that names its Kubernetes principals with
// {{external.<claim>}} gets them filled at login (they are in the
// certificate) and the proxy must fill them the same way for every request:
// the kube-apiserver must see the filled user and groups, never the
// literal template nor nothing at all.
import { DEV_ROLES, type DevStackOptions } from '@ztsh/server';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest } from './helpers/raw-client.ts';

type Roles = NonNullable<DevStackOptions['roles']>;

/** The dev roles, with the developer's principals written as templates of the ID token's claims. */
const roles: Roles = DEV_ROLES.map((role) =>
  role.metadata.name !== 'developer'
    ? role
    : {
        ...role,
        spec: {
          ...role.spec,
          allow: {
            ...role.spec.allow,
            kubernetes_groups: ['{{external.groups}}', 'viewers'],
            kubernetes_users: ['{{ external.email }}', '{{external.preferred_username}}'],
          },
          // A denied template is filled too: this takes "alice" back out of the users.
          deny: { ...role.spec.deny, kubernetes_users: ['{{external.preferred_username}}'] },
        },
      },
);

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv({ roles });
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

describe('item 13: role templates reach the cluster', () => {
  it('item 13: login puts the filled principals in the certificate', async () => {
    const status = await cli(['status', '--format', 'json'], k.env as Record<string, string>);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ user: 'alice', kubernetesUsers: ['alice@example.com'], kubernetesGroups: ['developers', 'viewers'] });
  });

  it('item 13: kubectl get pods is impersonated as the filled user and groups', async () => {
    const before = k.kube.requests.length;
    const r = await runKubectl(findKubectl('1.33', process.env.PATH)!, ['get', 'pods'], { env: k.env, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/web-1/);
    const seen = k.kube.requests.slice(before).filter((q) => q.path === '/api/v1/namespaces/default/pods');
    expect(seen.length).toBeGreaterThan(0);
    for (const q of seen) {
      expect(q.impersonatedUser).toBe('alice@example.com');
      expect(q.impersonatedGroups).toEqual(['developers', 'viewers']);
    }
  });

  it('item 13: --as-group may pick a filled group, and a literal template is no principal', async () => {
    const target = { url: k.stack.url, tlsCa: k.stack.tlsCa };
    const path = '/k8s/sandbox/api/v1/namespaces/default/pods/web-1';
    const before = k.kube.requests.length;
    const picked = await rawRequest(target, { path, as: k.alice, headers: { 'Impersonate-User': 'alice@example.com', 'Impersonate-Group': 'developers' } });
    expect(picked.status, picked.body).toBe(200);
    const forwarded = k.kube.requests.slice(before).filter((q) => q.path === '/api/v1/namespaces/default/pods/web-1');
    expect(forwarded.map((q) => [q.impersonatedUser, q.impersonatedGroups])).toEqual([['alice@example.com', ['developers']]]);

    const after = k.kube.requests.length;
    for (const headers of <Record<string, string>[]>[{ 'Impersonate-Group': '{{external.groups}}', 'Impersonate-User': 'alice@example.com' }, { 'Impersonate-User': 'alice' }, { 'Impersonate-User': '{{ external.email }}' }]) {
      const refused = await rawRequest(target, { path, as: k.alice, headers });
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.json()).toMatchObject({ kind: 'Status', code: 403 });
    }
    expect(k.kube.requests.slice(after)).toEqual([]);
  });
});
