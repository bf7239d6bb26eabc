import { type Identity, type Role, RoleSchema } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { authorizeKube } from './kube-authorize.ts';
import type { KubeRequestInfo } from './kube-request-info.ts';
import { answerSelfReview, answerSelfReviewBytes, isSelfReview, SELF_REVIEW_BODY_LIMIT, type SelfReviewInput } from './self-review.ts';

const role = (name: string, spec: object): Role => RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec });

const developer = role('developer', {
  allow: {
    kubernetes_labels: { env: 'dev' },
    kubernetes_groups: ['developers'],
    kubernetes_resources: [
      { kind: 'pods', verbs: ['get', 'list', 'watch', 'exec'] },
      { kind: '*', verbs: ['get', 'list'] },
      { kind: 'configmaps', namespace: 'team-*', verbs: ['*'] },
      { kind: 'deployments', api_group: 'apps', namespace: 'team-a', name: 'web', verbs: ['update'] },
    ],
  },
  deny: { kubernetes_resources: [{ kind: 'secrets', verbs: ['*'] }] },
});
const noProd = role('no-prod', { deny: { kubernetes_labels: { env: 'prod' } } });

const alice: Identity = {
  v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: ['developers'], traits: {},
  mfaVerified: true, loginId: 'l', connector: 'dev', issuedForIp: '127.0.0.1',
};
const dev = { name: 'dev', labels: { env: 'dev' } };
const prod = { name: 'prod', labels: { env: 'prod' } };

const info = (resource: string, over: Partial<KubeRequestInfo> = {}): KubeRequestInfo => ({
  isResourceRequest: true, verb: 'create', apiGroup: 'authorization.k8s.io', apiVersion: 'v1', resource, subresource: '', namespace: '', name: '',
  path: `/apis/authorization.k8s.io/v1/${resource}`, ...over,
});
const ssar = info('selfsubjectaccessreviews');
const ssrr = info('selfsubjectrulesreviews');
const input = (over: Partial<SelfReviewInput> = {}): SelfReviewInput => ({ identity: alice, roles: [developer], cluster: dev, info: ssar, ...over });
const review = (resourceAttributes: Record<string, unknown>) => ({
  kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { resourceAttributes }, status: { allowed: false },
});
/** The allowed verdict for these attributes, with the whole answer checked for shape. */
const canI = (resourceAttributes: Record<string, unknown>, over: Partial<SelfReviewInput> = {}): boolean => {
  const a = answerSelfReview(input(over), review(resourceAttributes));
  expect(a.status).toBe(201);
  expect(a.body).toMatchObject({ kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', status: { allowed: expect.any(Boolean) } });
  return (a.body.status as { allowed: boolean }).allowed;
};

describe('isSelfReview', () => {
  it('is every request on the two self-review resources, and nothing else', () => {
    expect(isSelfReview(ssar)).toBe(true);
    expect(isSelfReview(ssrr)).toBe(true);
    expect(isSelfReview(info('selfsubjectaccessreviews', { verb: 'get', apiVersion: 'v1beta1', namespace: 'x' }))).toBe(true);
    expect(isSelfReview(info('subjectaccessreviews'))).toBe(false);
    expect(isSelfReview(info('localsubjectaccessreviews', { namespace: 'x' }))).toBe(false);
    expect(isSelfReview(info('selfsubjectaccessreviews', { apiGroup: 'evil.example.com' }))).toBe(false);
    expect(isSelfReview(info('selfsubjectaccessreviews', { isResourceRequest: false }))).toBe(false);
    expect(isSelfReview(info('constructor'))).toBe(false);
  });
});

describe('SelfSubjectAccessReview', () => {
  it('item 14: answers what authorizeKube decides for the same request', () => {
    expect(canI({ verb: 'get', resource: 'pods', namespace: 'default' })).toBe(true);
    expect(canI({ verb: 'delete', resource: 'pods', namespace: 'default', name: 'p' })).toBe(false);
    expect(canI({ verb: 'get', resource: 'secrets', namespace: 'default' })).toBe(false);
    expect(canI({ verb: 'patch', resource: 'configmaps', namespace: 'team-b' })).toBe(true);
    expect(canI({ verb: 'patch', resource: 'configmaps', namespace: 'other' })).toBe(false);
    expect(canI({ verb: 'update', group: 'apps', resource: 'deployments', namespace: 'team-a', name: 'web' })).toBe(true);
    expect(canI({ verb: 'update', group: 'apps', resource: 'deployments', namespace: 'team-a', name: 'api' })).toBe(false);
    expect(canI({ verb: 'update', group: 'apps', resource: 'deployments', namespace: 'team-a' })).toBe(false);
    expect(canI({ verb: 'update', resource: 'deployments', namespace: 'team-a', name: 'web' })).toBe(false);
    // The same request through the proxy's own check agrees.
    const viaProxy = authorizeKube(alice, [developer], dev, { ...ssar, verb: 'update', apiGroup: 'apps', resource: 'deployments', namespace: 'team-a', name: 'web' }, { groups: [] });
    expect(viaProxy.allowed).toBe(true);
  });

  it('reads exec, attach and portforward subresources as the verbs the proxy uses for them', () => {
    expect(canI({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'default', name: 'p' })).toBe(true);
    expect(canI({ verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'default', name: 'p' })).toBe(true);
    expect(canI({ verb: 'create', resource: 'pods', subresource: 'portforward', namespace: 'default', name: 'p' })).toBe(false);
    expect(canI({ verb: 'create', resource: 'pods', subresource: 'attach', namespace: 'default', name: 'p' })).toBe(false);
  });

  it('"*" and all namespaces are answered yes only when every part is allowed', () => {
    expect(canI({ verb: '*', resource: 'pods', namespace: 'default' })).toBe(false);
    expect(canI({ verb: 'get', resource: '*', namespace: 'default' })).toBe(false); // secrets are denied
    expect(canI({ verb: 'list', resource: 'secrets' })).toBe(false);
    expect(canI({ verb: 'list', resource: 'pods' })).toBe(true);
    expect(canI({ verb: 'list', resource: 'configmaps', namespace: 'team-a' })).toBe(true);
    expect(canI({ verb: 'delete', resource: 'configmaps' })).toBe(false);
  });

  it('gives the reason for a no, as kubectl prints it', () => {
    const a = answerSelfReview(input(), review({ verb: 'get', resource: 'secrets', namespace: 'default' }));
    expect(a.body.status).toEqual({ allowed: false, reason: 'role developer denies get secrets' });
  });

  it('answers no on a cluster the roles do not reach or deny', () => {
    expect(canI({ verb: 'get', resource: 'pods', namespace: 'default' }, { cluster: prod })).toBe(false);
    expect(canI({ verb: 'get', resource: 'pods', namespace: 'default' }, { roles: [developer, noProd], cluster: { name: 'p', labels: { env: 'prod' } } })).toBe(false);
  });

  it('answers about the caller only: user, groups, uid and extra in the body are ignored and not echoed', () => {
    const body = {
      kind: 'SelfSubjectAccessReview',
      spec: {
        user: 'bob', groups: ['system:masters'], uid: '0', extra: { scopes: ['*'] },
        resourceAttributes: { verb: 'delete', resource: 'nodes', name: 'n1', evil: 'x' },
      },
    };
    const a = answerSelfReview(input(), body);
    expect(a.status).toBe(201);
    expect(a.body.status).toMatchObject({ allowed: false });
    expect(a.body.spec).toEqual({ resourceAttributes: { verb: 'delete', resource: 'nodes', name: 'n1' } });
    expect(JSON.stringify(a.body)).not.toMatch(/bob|system:masters|evil|scopes/);
  });

  it('uses the impersonation the request was let through with', () => {
    const two = role('two', { allow: { kubernetes_labels: { env: 'dev' }, kubernetes_users: ['u1', 'u2'], kubernetes_resources: [{ kind: 'pods', verbs: ['get'] }] } });
    const carl = { ...alice, kubernetesUsers: ['u1', 'u2'] };
    expect(canI({ verb: 'get', resource: 'pods', namespace: 'a' }, { identity: carl, roles: [two] })).toBe(false);
    expect(canI({ verb: 'get', resource: 'pods', namespace: 'a' }, { identity: carl, roles: [two], asked: { user: 'u1', groups: [] } })).toBe(true);
  });

  describe('non-resource paths', () => {
    const nr = (path: unknown, verb: unknown = 'get') => answerSelfReview(input(), { kind: 'SelfSubjectAccessReview', spec: { nonResourceAttributes: { path, verb } } });
    const allowed = (path: unknown, verb?: unknown) => (nr(path, verb).body.status as { allowed: boolean }).allowed;

    it('allows get on the paths the proxy lets through, to someone who reaches the cluster', () => {
      expect(allowed('/version')).toBe(true);
      expect(allowed('/apis/apps/v1')).toBe(true);
      expect(allowed('/healthz')).toBe(true);
      expect((answerSelfReview(input({ cluster: prod }), { kind: 'SelfSubjectAccessReview', spec: { nonResourceAttributes: { path: '/version', verb: 'get' } } }).body.status as { allowed: boolean }).allowed).toBe(false);
    });

    it('says no to anything else, and to anything not plain', () => {
      expect(allowed('/metrics')).toBe(false);
      expect(allowed('/logs/x')).toBe(false);
      expect(allowed('/version', 'post')).toBe(false);
      expect(allowed('/version', 'GET')).toBe(false);
      for (const path of ['/healthz/*', '*', '/version/', '//version', '/api/../metrics', '/api/%2e%2e', 'version', '', '/api/v1/\u001b[2J', '/' + 'a'.repeat(300)]) {
        expect(allowed(path), path).toBe(false);
      }
    });
  });

  describe('hostile bodies', () => {
    const status = (body: unknown) => answerSelfReview(input(), body);

    it('refuses what is not a review object with a Status', () => {
      for (const body of [undefined, null, 'x', 42, [], [review({ verb: 'get' })]]) {
        const a = status(body);
        expect(a.status).toBe(400);
        expect(a.body).toMatchObject({ kind: 'Status', status: 'Failure', code: 400, reason: 'BadRequest' });
      }
    });

    it('refuses another kind or apiVersion', () => {
      expect(status({ ...review({ verb: 'get' }), kind: 'SubjectAccessReview' }).status).toBe(400);
      expect(status({ ...review({ verb: 'get' }), kind: 'SelfSubjectRulesReview' }).status).toBe(400);
      expect(status({ ...review({ verb: 'get' }), apiVersion: 'authorization.k8s.io/v1beta1' }).status).toBe(400);
      expect(status({ ...review({ verb: 'get' }), kind: 7 }).status).toBe(400);
    });

    it('refuses a spec without exactly one kind of attributes, or with attributes that are not strings', () => {
      expect(status({ kind: 'SelfSubjectAccessReview' }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: {} }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: 'x' }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: {}, nonResourceAttributes: {} } }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: ['get'] } } }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: { $ne: '' } } } }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { name: 'x'.repeat(5000) } } }).status).toBe(422);
      expect(status({ kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: 'get' } }).status).toBe(422);
    });

    it('treats missing attributes as "all", which only "*" rules allow', () => {
      expect(canI({})).toBe(false);
      expect(canI({ resource: 'pods', namespace: 'default' })).toBe(false);
    });

    it('is not fooled by __proto__ or constructor keys', () => {
      const body = JSON.parse('{"kind":"SelfSubjectAccessReview","spec":{"__proto__":{"resourceAttributes":{"verb":"get"}},"resourceAttributes":{"verb":"get","resource":"secrets","namespace":"a","__proto__":{"resource":"pods"}}}}');
      const a = status(body);
      expect(a.body.status).toMatchObject({ allowed: false });
    });

    it('refuses a body over the limit, and one that is not JSON, from its bytes', () => {
      const big = new TextEncoder().encode(JSON.stringify({ ...review({ verb: 'get' }), pad: 'x'.repeat(SELF_REVIEW_BODY_LIMIT) }));
      expect(answerSelfReviewBytes(input(), big)).toMatchObject({ status: 413, body: { kind: 'Status', code: 413 } });
      expect(answerSelfReviewBytes(input(), new TextEncoder().encode('{"kind":'))).toMatchObject({ status: 400 });
      expect(answerSelfReviewBytes(input(), Uint8Array.of(0x0a, 0x08, 0xff, 0xfe))).toMatchObject({ status: 400 });
      const ok = answerSelfReviewBytes(input(), new TextEncoder().encode(JSON.stringify(review({ verb: 'get', resource: 'pods', namespace: 'a' }))));
      expect(ok).toMatchObject({ status: 201, body: { status: { allowed: true } } });
    });
  });

  it('answers only POST on the cluster-scoped v1 resource', () => {
    const body = review({ verb: 'get' });
    expect(answerSelfReview(input({ info: { ...ssar, verb: 'get' } }), body)).toMatchObject({ status: 405 });
    expect(answerSelfReview(input({ info: { ...ssar, verb: 'list' } }), body)).toMatchObject({ status: 405 });
    expect(answerSelfReview(input({ info: { ...ssar, apiVersion: 'v1beta1' } }), body)).toMatchObject({ status: 404 });
    expect(answerSelfReview(input({ info: { ...ssar, namespace: 'x' } }), body)).toMatchObject({ status: 404 });
    expect(answerSelfReview(input({ info: { ...ssar, name: 'x' } }), body)).toMatchObject({ status: 404 });
    expect(answerSelfReview(input({ info: { ...ssar, subresource: 'status', name: 'x' } }), body)).toMatchObject({ status: 404 });
    expect(answerSelfReview(input({ info: info('subjectaccessreviews') }), body)).toMatchObject({ status: 404 });
  });
});

describe('SelfSubjectRulesReview', () => {
  const rules = (namespace: unknown, over: Partial<SelfReviewInput> = {}) => {
    const a = answerSelfReview(input({ info: ssrr, ...over }), { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', spec: { namespace } });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1' });
    return a.body.status as { resourceRules: { verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }[]; nonResourceRules: unknown[]; incomplete: boolean };
  };

  it('item 14: lists the allow rules that apply in the namespace, in RBAC words', () => {
    const s = rules('team-a');
    expect(s.resourceRules).toEqual([
      { verbs: ['get', 'list', 'watch'], apiGroups: ['*'], resources: ['pods'] },
      { verbs: ['create', 'get'], apiGroups: ['*'], resources: ['pods/exec'] },
      { verbs: ['get', 'list'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['*'], apiGroups: ['*'], resources: ['configmaps', 'configmaps/*'] },
      { verbs: ['update'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] },
    ]);
    expect(s.nonResourceRules).toEqual([expect.objectContaining({ verbs: ['get'], nonResourceURLs: expect.arrayContaining(['/version', '/apis/*']) })]);
  });

  it('leaves out rules for other namespaces', () => {
    const resources = rules('default').resourceRules.flatMap((r) => r.resources);
    expect(resources).not.toContain('configmaps');
    expect(resources).not.toContain('deployments');
    expect(resources).toContain('pods');
  });

  it('is incomplete when a deny rule takes part of an allow rule away, and drops what a deny takes whole', () => {
    expect(rules('default').incomplete).toBe(true); // get/list "*" minus secrets cannot be written in RBAC
    const plain = role('plain', {
      allow: { kubernetes_labels: { env: 'dev' }, kubernetes_resources: [{ kind: 'pods', verbs: ['get', 'delete'] }, { kind: 'secrets', verbs: ['get'] }] },
      deny: { kubernetes_resources: [{ kind: 'secrets', verbs: ['*'] }, { kind: 'pods', verbs: ['delete'] }] },
    });
    const s = rules('default', { roles: [plain] });
    expect(s.resourceRules).toEqual([{ verbs: ['get'], apiGroups: ['*'], resources: ['pods'] }]);
    expect(s.incomplete).toBe(false);
    const partial = role('partial', {
      allow: { kubernetes_labels: { env: 'dev' }, kubernetes_resources: [{ kind: 'pods', verbs: ['get'] }] },
      deny: { kubernetes_resources: [{ kind: 'pods', name: 'db-*', verbs: ['get'] }] },
    });
    expect(rules('default', { roles: [partial] })).toMatchObject({ resourceRules: [{ verbs: ['get'], resources: ['pods'] }], incomplete: true });
  });

  it('lists nothing on a cluster the roles do not reach', () => {
    expect(rules('default', { cluster: prod })).toEqual({ resourceRules: [], nonResourceRules: [], incomplete: false });
  });

  it('refuses a namespace that is not a string, and another kind', () => {
    expect(answerSelfReview(input({ info: ssrr }), { kind: 'SelfSubjectRulesReview', spec: { namespace: ['a'] } }).status).toBe(422);
    expect(answerSelfReview(input({ info: ssrr }), { kind: 'SelfSubjectAccessReview', spec: { namespace: 'a' } }).status).toBe(400);
    expect(answerSelfReview(input({ info: ssrr }), { kind: 'SelfSubjectRulesReview', spec: { namespace: 'a', user: 'bob' } }).body.spec).toEqual({ namespace: 'a' });
  });
});
