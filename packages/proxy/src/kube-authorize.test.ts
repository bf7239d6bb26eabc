import { type Identity, type Role, RoleSchema } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { authorizeKube, globMatch, labelsMatch } from './kube-authorize.ts';
import { parseKubeRequest } from './kube-request-info.ts';
import { canonicalKubeTarget } from './kube-path.ts';

const role = (name: string, spec: object): Role => RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec });

const developer = role('developer', {
  allow: {
    kubernetes_labels: { env: ['dev', 'staging'] },
    kubernetes_groups: ['developers'],
    kubernetes_users: ['dev-bot'],
    kubernetes_resources: [
      { kind: 'pods', verbs: ['get', 'list', 'watch', 'exec'] },
      { kind: 'configmaps', namespace: 'team-*', verbs: ['*'] },
    ],
  },
  deny: { kubernetes_resources: [{ kind: 'secrets', verbs: ['*'] }] },
});
const admin = role('admin', { allow: { kubernetes_labels: { '*': '*' }, kubernetes_groups: ['system:masters'], kubernetes_resources: [{ kind: '*', verbs: ['*'] }] } });
const noProd = role('no-prod', { deny: { kubernetes_labels: { env: 'prod' } } });

const alice: Identity = {
  v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: ['dev-bot'], kubernetesGroups: ['developers'], traits: {},
  mfaVerified: true, loginId: 'l', connector: 'dev', issuedForIp: '127.0.0.1',
};
const dev = { name: 'dev', labels: { env: 'dev' } };
const prod = { name: 'prod', labels: { env: 'prod' } };
const req = (method: string, url: string) => {
  const canonical = canonicalKubeTarget(`/k8s/x${url}`);
  if (!canonical.ok) throw new Error(canonical.message);
  const parsed = parseKubeRequest(method, canonical.target.segments, canonical.target.query);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.info;
};
const none = { groups: [] };

describe('authorizeKube', () => {
  it('allows what a role allows on a cluster whose labels it matches, impersonating the role\'s principals', () => {
    expect(authorizeKube(alice, [developer], dev, req('GET', '/api/v1/namespaces/default/pods'), none)).toEqual({
      allowed: true,
      kubernetesUser: 'dev-bot',
      kubernetesGroups: ['developers'],
    });
  });

  it('refuses a verb no role allows', () => {
    const d = authorizeKube(alice, [developer], dev, req('DELETE', '/api/v1/namespaces/default/pods/p'), none);
    expect(d).toEqual({ allowed: false, reason: 'no role of alice allows delete pods in default' });
  });

  it('deny wins: secrets are refused even for a role that allows everything', () => {
    const d = authorizeKube(alice, [admin, developer], dev, req('GET', '/api/v1/namespaces/default/secrets/db'), none);
    expect(d).toMatchObject({ allowed: false, reason: 'role developer denies get secrets' });
  });

  it('refuses a cluster outside the role\'s labels, and a cluster a role denies', () => {
    expect(authorizeKube(alice, [developer], prod, req('GET', '/api/v1/namespaces/default/pods'), none)).toMatchObject({ allowed: false, reason: 'no role of alice allows cluster prod' });
    expect(authorizeKube(alice, [admin, noProd], prod, req('GET', '/version'), none)).toMatchObject({ allowed: false, reason: 'role no-prod denies cluster prod' });
  });

  it('matches namespaces and names by glob; cluster-scoped objects need a "*" namespace rule', () => {
    expect(authorizeKube(alice, [developer], dev, req('PATCH', '/api/v1/namespaces/team-a/configmaps/c'), none).allowed).toBe(true);
    expect(authorizeKube(alice, [developer], dev, req('PATCH', '/api/v1/namespaces/other/configmaps/c'), none).allowed).toBe(false);
    expect(authorizeKube(alice, [developer], dev, req('GET', '/api/v1/nodes'), none).allowed).toBe(false);
  });

  it('lets discovery through for anyone who may reach the cluster', () => {
    expect(authorizeKube(alice, [developer], dev, req('GET', '/apis'), none).allowed).toBe(true);
  });

  it('allows --as and --as-group only for principals a role lists', () => {
    expect(authorizeKube(alice, [developer], dev, req('GET', '/api/v1/namespaces/a/pods'), { user: 'dev-bot', groups: [] })).toMatchObject({ allowed: true, kubernetesUser: 'dev-bot' });
    expect(authorizeKube(alice, [developer], dev, req('GET', '/api/v1/namespaces/a/pods'), { user: 'admin', groups: [] })).toEqual({ allowed: false, reason: 'alice may not impersonate user admin' });
    expect(authorizeKube(alice, [developer], dev, req('GET', '/api/v1/namespaces/a/pods'), { groups: ['system:masters'] })).toEqual({ allowed: false, reason: 'alice may not impersonate group system:masters' });
  });

  it('impersonates the ztsh user name when no role names a kubernetes user', () => {
    const bob = { ...alice, user: 'bob', kubernetesUsers: [], kubernetesGroups: ['system:masters'] };
    expect(authorizeKube(bob, [admin], prod, req('GET', '/api/v1/pods'), none)).toEqual({ allowed: true, kubernetesUser: 'bob', kubernetesGroups: ['system:masters'] });
  });

  it('matches globs and label selectors', () => {
    expect(globMatch('web-*', 'web-1')).toBe(true);
    expect(globMatch('web-*', 'api-1')).toBe(false);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(labelsMatch({ env: ['dev', 'staging'], team: 'a*' }, { env: 'staging', team: 'apps' })).toBe(true);
    expect(labelsMatch({ env: 'dev' }, {})).toBe(false);
    expect(labelsMatch(undefined, { env: 'dev' })).toBe(false);
  });
  it('item 13: fills role templates from the certificate\'s traits, as login did', () => {
    const sso = role('sso', {
      allow: {
        kubernetes_labels: { env: 'dev' },
        kubernetes_groups: ['{{external.groups}}'],
        kubernetes_users: ['{{ external.email }}'],
        kubernetes_resources: [{ kind: 'pods', verbs: ['get', 'list'] }],
      },
      deny: { kubernetes_groups: ['{{external.blocked}}'] },
    });
    const carl: Identity = {
      ...alice, user: 'carl', roles: ['sso'], kubernetesUsers: ['carl@example.com'], kubernetesGroups: ['eng', 'oncall'],
      traits: { groups: ['eng', 'oncall', 'admins'], email: ['carl@example.com'], blocked: ['admins'] },
    };
    expect(authorizeKube(carl, [sso], dev, req('GET', '/api/v1/namespaces/a/pods'), none)).toEqual({
      allowed: true,
      kubernetesUser: 'carl@example.com',
      kubernetesGroups: ['eng', 'oncall'],
    });
    // A value in the traits but not in the certificate is not impersonated: both must agree.
    expect(authorizeKube({ ...carl, kubernetesGroups: ['eng'] }, [sso], dev, req('GET', '/api/v1/namespaces/a/pods'), none)).toMatchObject({ kubernetesGroups: ['eng'] });
    // The literal template text is never a principal.
    const literal = { ...carl, kubernetesGroups: ['{{external.groups}}'], traits: {} };
    expect(authorizeKube(literal, [sso], dev, req('GET', '/api/v1/namespaces/a/pods'), none)).toMatchObject({ kubernetesGroups: [] });
  });

  it('item 15: --as may name the user one is impersonated as anyway, so --as-group works', () => {
    const plain = role('plain', { allow: { kubernetes_labels: { env: 'dev' }, kubernetes_groups: ['developers', 'viewers'], kubernetes_resources: [{ kind: 'pods', verbs: ['get'] }] } });
    const carl: Identity = { ...alice, user: 'carl', kubernetesUsers: [], kubernetesGroups: ['developers', 'viewers'] };
    const get = req('GET', '/api/v1/namespaces/a/pods/p');
    expect(authorizeKube(carl, [plain], dev, get, { user: 'carl', groups: ['viewers'] })).toEqual({ allowed: true, kubernetesUser: 'carl', kubernetesGroups: ['viewers'] });
    expect(authorizeKube(carl, [plain], dev, get, { user: 'someone-else', groups: ['viewers'] })).toEqual({ allowed: false, reason: 'carl may not impersonate user someone-else' });
    expect(authorizeKube(carl, [plain], dev, get, { user: 'carl', groups: ['system:masters'] })).toEqual({ allowed: false, reason: 'carl may not impersonate group system:masters' });
    // With one kubernetes user from the roles, that user is the one named "anyway", not the ztsh user name.
    expect(authorizeKube(alice, [developer], dev, get, { user: 'alice', groups: [] })).toEqual({ allowed: false, reason: 'alice may not impersonate user alice' });
    // With several, there is no user "anyway": --as must pick one of them.
    const two = { ...carl, kubernetesUsers: ['u1', 'u2'] };
    const both = role('both', { allow: { kubernetes_labels: { env: 'dev' }, kubernetes_users: ['u1', 'u2'], kubernetes_resources: [{ kind: 'pods', verbs: ['get'] }] } });
    expect(authorizeKube(two, [both], dev, get, { user: 'carl', groups: [] })).toMatchObject({ allowed: false });
    expect(authorizeKube(two, [both], dev, get, { user: 'u2', groups: [] })).toMatchObject({ allowed: true, kubernetesUser: 'u2' });
  });

  it('a deny rule refuses a list that would include what it denies', () => {
    const reader = role('reader', {
      allow: { kubernetes_labels: { env: 'dev' }, kubernetes_resources: [{ kind: '*', verbs: ['get', 'list'] }] },
      deny: { kubernetes_resources: [{ kind: 'secrets', namespace: 'kube-system', verbs: ['*'] }, { kind: 'configmaps', name: 'db', verbs: ['get', 'list'] }] },
    });
    expect(authorizeKube(alice, [reader], dev, req('GET', '/api/v1/namespaces/default/secrets'), none).allowed).toBe(true);
    expect(authorizeKube(alice, [reader], dev, req('GET', '/api/v1/namespaces/kube-system/secrets'), none).allowed).toBe(false);
    expect(authorizeKube(alice, [reader], dev, req('GET', '/api/v1/secrets'), none).allowed).toBe(false);
    expect(authorizeKube(alice, [reader], dev, req('GET', '/api/v1/namespaces/a/configmaps/web'), none).allowed).toBe(true);
    expect(authorizeKube(alice, [reader], dev, req('GET', '/api/v1/namespaces/a/configmaps'), none).allowed).toBe(false);
  });

  it('item 14: a self review passes for anyone who reaches the cluster; the proxy answers it', () => {
    const ssar = req('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews');
    const auditorRole = role('auditor', { allow: { kubernetes_labels: { env: 'dev' }, kubernetes_groups: ['developers'] } });
    expect(authorizeKube(alice, [auditorRole], dev, ssar, none)).toMatchObject({ allowed: true });
    expect(authorizeKube(alice, [auditorRole], prod, ssar, none)).toMatchObject({ allowed: false });
    // Other reviews (about someone else) stay ordinary resources that a role must allow.
    expect(authorizeKube(alice, [auditorRole], dev, req('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews'), none)).toMatchObject({ allowed: false });
  });
});
