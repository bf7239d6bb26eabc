import { RoleSchema, type Role } from '@ztsh/auth';
import type { Identity } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { authorizeKube, globMatch, labelsMatch } from './kube-authorize.ts';
import { parseKubeRequest } from './kube-request-info.ts';

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
  const u = new URL(url, 'https://x');
  return parseKubeRequest(method, u.pathname, u.searchParams);
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
});
