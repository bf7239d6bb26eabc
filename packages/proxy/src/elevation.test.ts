import { type Identity, type Role, RoleSchema } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { authorizeKube } from './kube-authorize.ts';
import { parseKubeRequest } from './kube-request-info.ts';
import { canonicalKubeTarget } from './kube-path.ts';
import { authorizeWithGrants, certificateRoles, curingRole, grantCovers, reachesCluster, requestableRoles, requestCommand, reviewRoles, rolesReachingIfRequested } from './elevation.ts';

const role = (name: string, spec: object): Role => RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec });

const developer = role('developer', {
  allow: {
    kubernetes_labels: { env: ['dev'] },
    kubernetes_groups: ['developers'],
    kubernetes_resources: [{ kind: 'pods', verbs: ['get', 'list', 'watch'] }],
    request: { roles: ['prod-admin', 'prod-reader', 'forbidden'], search_as_roles: ['prod-debugger'] },
  },
  deny: { kubernetes_resources: [{ kind: 'secrets', verbs: ['*'] }], request: { roles: ['forbidden'] } },
});
const prodAdmin = role('prod-admin', {
  allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-admins'], kubernetes_resources: [{ kind: '*', verbs: ['*'] }] },
});
const prodReader = role('prod-reader', {
  allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-readers'], kubernetes_resources: [{ kind: 'pods', verbs: ['get', 'list'] }] },
});
const prodDebugger = role('prod-debugger', {
  allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-debuggers'], kubernetes_resources: [{ kind: 'pods', verbs: ['get', 'list', 'exec', 'delete'] }] },
});
const forbidden = role('forbidden', { allow: { kubernetes_labels: { '*': '*' }, kubernetes_resources: [{ kind: '*', verbs: ['*'] }] } });
const noConfigmaps = role('no-configmaps', {
  allow: { kubernetes_labels: { env: 'prod' }, kubernetes_resources: [{ kind: '*', verbs: ['*'] }] },
  deny: { kubernetes_resources: [{ kind: 'configmaps', verbs: ['*'] }] },
});
const all = new Map([developer, prodAdmin, prodReader, prodDebugger, forbidden, noConfigmaps].map((r) => [r.metadata.name, r]));
const rolesOf = (names: string[]) => names.flatMap((n) => all.get(n) ?? []);

const alice: Identity = {
  v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: ['developers', 'prod-admins', 'prod-readers', 'prod-debuggers'], traits: {},
  mfaVerified: true, loginId: 'l', connector: 'dev', issuedForIp: '127.0.0.1',
};
const elevated = (accessRequests: Identity['accessRequests']): Identity => ({ ...alice, accessRequests });
const web1 = { cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' };

const dev = { name: 'dev', labels: { env: 'dev' } };
const prod = { name: 'prod', labels: { env: 'prod' } };
const prod2 = { name: 'prod-2', labels: { env: 'prod' } };
const req = (method: string, url: string) => {
  const canonical = canonicalKubeTarget(`/k8s/x${url}`);
  if (!canonical.ok) throw new Error(canonical.message);
  const parsed = parseKubeRequest(method, canonical.target.segments, canonical.target.query);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.info;
};
const none = { groups: [] };
const decide = (identity: Identity, cluster: typeof prod, method: string, url: string) => authorizeWithGrants(identity, rolesOf, cluster, req(method, url), none, authorizeKube);

describe('authorizeWithGrants', () => {
  it('without access requests decides as the own roles do, naming no request', () => {
    expect(decide(alice, dev, 'GET', '/api/v1/namespaces/default/pods')).toMatchObject({ decision: { allowed: true }, accessRequests: [] });
    expect(decide(alice, prod, 'GET', '/api/v1/namespaces/default/pods')).toMatchObject({
      decision: { allowed: false, reason: 'no role of alice allows cluster prod' },
      accessRequests: [],
    });
  });

  it('a request granted whole reaches the cluster its roles reach, impersonating its groups, and names the request', () => {
    const d = decide(elevated([{ id: 'req-1', roles: ['prod-admin'] }]), prod, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/web');
    expect(d.decision).toEqual({ allowed: true, kubernetesUser: 'alice', kubernetesGroups: ['prod-admins'] });
    expect(d.accessRequests).toEqual(['req-1']);
  });

  it('a request the own roles allow names no access request, even on an elevated certificate', () => {
    expect(decide(elevated([{ id: 'req-1', roles: ['prod-admin'] }]), dev, 'GET', '/api/v1/namespaces/default/pods')).toMatchObject({ decision: { allowed: true }, accessRequests: [] });
  });

  it('names the request that let it through, of several', () => {
    const identity = elevated([{ id: 'req-r', roles: ['prod-reader'] }, { id: 'req-a', roles: ['prod-admin'] }]);
    expect(decide(identity, prod, 'GET', '/api/v1/namespaces/default/pods').accessRequests).toEqual(['req-r']);
    expect(decide(identity, prod, 'DELETE', '/api/v1/namespaces/default/pods/web-1').accessRequests).toEqual(['req-a']);
  });

  it('the deny rules of the own roles hold against a granted role that allows everything', () => {
    const d = decide(elevated([{ id: 'req-1', roles: ['prod-admin'] }]), prod, 'GET', '/api/v1/namespaces/default/secrets/db');
    expect(d.decision).toEqual({ allowed: false, reason: 'role developer denies get secrets' });
    // A refusal is tried under every request the certificate carries.
    expect(d.accessRequests).toEqual(['req-1']);
  });

  it("the deny rules of one request's role hold against another request's role", () => {
    const identity = elevated([{ id: 'req-1', roles: ['prod-admin'] }, { id: 'req-2', roles: ['no-configmaps'] }]);
    const d = decide(identity, prod, 'GET', '/api/v1/namespaces/default/configmaps/x');
    expect(d.decision).toMatchObject({ allowed: false, reason: 'role no-configmaps denies get configmaps' });
    expect(d.accessRequests).toEqual(['req-1', 'req-2']);
  });

  it('an unknown role in a request grants nothing', () => {
    expect(decide(elevated([{ id: 'req-1', roles: ['no-such-role'] }]), prod, 'GET', '/version').decision.allowed).toBe(false);
  });
});

describe('a request of single resources', () => {
  const identity = elevated([{ id: 'req-p', roles: ['prod-debugger'], resources: [web1] }]);

  it('reaches its pod and the pod\'s exec, log, attach and port-forward', () => {
    for (const [method, url] of [
      ['GET', '/api/v1/namespaces/default/pods/web-1'],
      ['GET', '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1'],
      ['GET', '/api/v1/namespaces/default/pods/web-1/exec?command=sh'],
      ['POST', '/api/v1/namespaces/default/pods/web-1/exec?command=sh'],
      ['GET', '/api/v1/namespaces/default/pods/web-1/log'],
    ] as const) {
      expect(decide(identity, prod, method, url), url).toMatchObject({ decision: { allowed: true, kubernetesGroups: ['prod-debuggers'] }, accessRequests: ['req-p'] });
    }
    const covers = (subresource: string, verb: string) =>
      grantCovers(identity.accessRequests![0]!, 'prod', { isResourceRequest: true, verb, apiGroup: '', resource: 'pods', subresource, namespace: 'default', name: 'web-1' });
    for (const [sub, verb] of [['', 'get'], ['', 'list'], ['', 'watch'], ['log', 'get'], ['exec', 'exec'], ['attach', 'attach'], ['portforward', 'portforward']]) {
      expect(covers(sub!, verb!), `${verb} ${sub}`).toBe(true);
    }
  });

  it('lends no verb that changes the pod: the name alone would let it be deleted and made again with any spec', () => {
    // prod-admin allows every verb; the grant is still for reading web-1 and sessions in it.
    const admin = elevated([{ id: 'req-a', roles: ['prod-admin'], resources: [web1] }]);
    for (const method of ['DELETE', 'PATCH', 'PUT', 'POST']) {
      const url = method === 'POST' ? '/api/v1/namespaces/default/pods' : '/api/v1/namespaces/default/pods/web-1';
      expect(decide(admin, prod, method, url).decision.allowed, `${method} ${url}`).toBe(false);
    }
    // Nor a delete of the collection narrowed to it.
    expect(decide(admin, prod, 'DELETE', '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1').decision.allowed).toBe(false);
    for (const sub of ['', 'log']) {
      for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) {
        expect(grantCovers(admin.accessRequests![0]!, 'prod', { isResourceRequest: true, verb, apiGroup: '', resource: 'pods', subresource: sub, namespace: 'default', name: 'web-1' }), `${verb} ${sub}`).toBe(false);
      }
    }
    // The debugger's own delete verb is not lent either.
    expect(decide(identity, prod, 'DELETE', '/api/v1/namespaces/default/pods/web-1').decision.allowed).toBe(false);
    // Reading it still is.
    expect(decide(admin, prod, 'GET', '/api/v1/namespaces/default/pods/web-1').decision).toMatchObject({ allowed: true, kubernetesGroups: ['prod-admins'] });
  });

  it('and the read-only discovery kubectl needs first on that cluster', () => {
    expect(decide(identity, prod, 'GET', '/api').decision.allowed).toBe(true);
    expect(decide(identity, prod, 'GET', '/version').decision.allowed).toBe(true);
  });

  it('not another pod, a list of pods, another namespace, another kind or another subresource', () => {
    for (const url of [
      '/api/v1/namespaces/default/pods/web-2',
      '/api/v1/namespaces/default/pods',
      '/api/v1/pods',
      '/api/v1/namespaces/other/pods/web-1',
      '/api/v1/namespaces/default/services/web-1',
      '/apis/apps/v1/namespaces/default/deployments/web-1',
      '/api/v1/namespaces/default/pods/web-1/ephemeralcontainers',
      '/api/v1/namespaces/default/pods/web-1/eviction',
      '/api/v1/namespaces/default/pods/web-1/status',
    ]) {
      expect(decide(identity, prod, 'GET', url).decision.allowed, url).toBe(false);
    }
  });

  it('not the same pod on another cluster, not even its discovery', () => {
    expect(decide(identity, prod2, 'GET', '/api/v1/namespaces/default/pods/web-1').decision.allowed).toBe(false);
    expect(decide(identity, prod2, 'GET', '/api').decision.allowed).toBe(false);
  });

  it('a can-i review is answered from the own roles and whole grants only', () => {
    expect(reviewRoles(identity, rolesOf).filter((r) => r.spec.allow.kubernetes_resources).map((r) => r.metadata.name)).toEqual(['developer']);
    const both = elevated([...identity.accessRequests!, { id: 'req-a', roles: ['prod-admin'] }]);
    expect(reviewRoles(both, rolesOf).filter((r) => r.spec.allow.kubernetes_resources).map((r) => r.metadata.name)).toEqual(['developer', 'prod-admin']);
  });

  it('an empty resource list is a whole grant (a request for roles carries none)', () => {
    expect(decide(elevated([{ id: 'req-1', roles: ['prod-reader'], resources: [] }]), prod, 'GET', '/api/v1/pods').decision.allowed).toBe(true);
  });
});

describe('locks and the cluster list', () => {
  it('locks see every role the certificate carries', () => {
    expect(certificateRoles(elevated([{ id: 'a', roles: ['prod-admin'] }, { id: 'b', roles: ['prod-debugger', 'prod-admin'] }]))).toEqual(['developer', 'prod-admin', 'prod-debugger']);
  });

  it('reaches the clusters of whole grants, and of a limited grant only where its pods are', () => {
    expect(reachesCluster(alice, rolesOf, prod)).toBe(false);
    expect(reachesCluster(elevated([{ id: 'a', roles: ['prod-admin'] }]), rolesOf, prod2)).toBe(true);
    const limited = elevated([{ id: 'p', roles: ['prod-debugger'], resources: [web1] }]);
    expect(reachesCluster(limited, rolesOf, prod)).toBe(true);
    expect(reachesCluster(limited, rolesOf, prod2)).toBe(false);
  });
});

describe('what a request would cure', () => {
  it('the requestable roles are those allowed and not denied', () => {
    expect(requestableRoles([developer])).toEqual(['prod-admin', 'prod-reader']);
  });

  it('names the first requestable role that would let the refused request through', () => {
    const cure = (identity: Identity, cluster: typeof prod, method: string, url: string) => curingRole(identity, rolesOf, cluster, req(method, url), none, authorizeKube);
    expect(cure(alice, prod, 'GET', '/api/v1/namespaces/default/pods')).toBe('prod-admin');
    // Already carried: nothing more to ask.
    expect(cure(elevated([{ id: 'a', roles: ['prod-admin'] }]), prod, 'GET', '/api/v1/namespaces/default/secrets/x')).toBeUndefined();
    // A deny of the own roles no request lifts.
    expect(cure(alice, prod, 'GET', '/api/v1/namespaces/default/secrets/x')).toBeUndefined();
    expect(cure(elevated([{ id: 'r', roles: ['prod-reader'] }]), prod, 'DELETE', '/api/v1/namespaces/default/pods/web-1')).toBe('prod-admin');
    // A role denied for requests is never offered, though it would allow everything.
    expect(cure(alice, { name: 'lab', labels: { env: 'lab' } }, 'GET', '/version')).toBeUndefined();
    expect(requestCommand(['prod-admin'])).toBe('ztsh request create --roles prod-admin --reason "..."');
  });

  it('lists the requestable roles of clusters not reached', () => {
    expect(rolesReachingIfRequested(alice, rolesOf, prod)).toEqual(['prod-admin', 'prod-reader']);
    expect(rolesReachingIfRequested(alice, rolesOf, { name: 'x', labels: { env: 'staging' } })).toEqual([]);
    expect(rolesReachingIfRequested(elevated([{ id: 'a', roles: ['prod-admin'] }]), rolesOf, prod)).toEqual(['prod-reader']);
  });
});
