import { describe, expect, it } from 'vitest';
import {
  evaluateKubeAccess,
  fillTemplates,
  kubePrincipals,
  permissionsOf,
  ruleCovers,
  ruleOverlaps,
  type EvaluatedRole,
  type KubeAsk,
  type KubeIdentity,
  type RoleConditions,
} from './role-evaluator.ts';

const role = (name: string, allow: RoleConditions = {}, deny: RoleConditions = {}): EvaluatedRole => ({ metadata: { name }, spec: { allow, deny } });
const ask = (over: Partial<KubeAsk>): KubeAsk => ({ isResourceRequest: true, verb: 'get', apiGroup: '', resource: 'pods', namespace: 'default', name: 'p', ...over });
const rule = (over: Partial<{ kind: string; api_group: string; namespace: string; name: string; verbs: string[] }>) => ({ kind: 'pods', namespace: '*', name: '*', verbs: ['get'], ...over });
const cluster = { name: 'dev', labels: { env: 'dev' } };

describe('fillTemplates', () => {
  const traits = { groups: ['eng', 'oncall'], email: ['a@example.com'] };

  it('fills a whole-value {{external.<trait>}}, with or without spaces', () => {
    expect(fillTemplates(['{{external.groups}}', 'viewers', '{{ external.email }}'], traits)).toEqual(['eng', 'oncall', 'viewers', 'a@example.com']);
  });

  it('fills nothing for a missing trait, and never from Object.prototype', () => {
    expect(fillTemplates(['{{external.missing}}'], traits)).toEqual([]);
    expect(fillTemplates(['{{external.constructor}}', '{{external.__proto__}}', '{{external.toString}}'], traits)).toEqual([]);
  });

  it('keeps a value that only contains a template as written, and does not fill twice', () => {
    expect(fillTemplates(['x-{{external.groups}}', '{{external.groups}}-x', '{{internal.groups}}'], traits)).toEqual([
      'x-{{external.groups}}',
      '{{external.groups}}-x',
      '{{internal.groups}}',
    ]);
    expect(fillTemplates(['{{external.a}}'], { a: ['{{external.b}}'], b: ['root'] })).toEqual(['{{external.b}}']);
  });

  it('drops empty and non-string trait values', () => {
    expect(fillTemplates(['{{external.a}}'], { a: ['', 'x', 3 as unknown as string] })).toEqual(['x']);
    expect(fillTemplates(undefined, traits)).toEqual([]);
  });
});

describe('kubePrincipals', () => {
  it('is the allowed principals, templates filled, minus the denied ones whatever the order', () => {
    const roles = [
      role('deny', {}, { kubernetes_groups: ['{{external.blocked}}'], kubernetes_users: ['root'] }),
      role('sso', { kubernetes_groups: ['{{external.groups}}', 'viewers'], kubernetes_users: ['{{external.email}}', 'root'] }),
    ];
    expect(kubePrincipals(roles, { groups: ['eng', 'admins', 'eng'], email: ['a@x'], blocked: ['admins'] })).toEqual({
      users: ['a@x'],
      groups: ['eng', 'viewers'],
    });
  });

  it('takes allow from a subset of the roles, deny from all', () => {
    const a = role('a', { kubernetes_groups: ['ga'] });
    const b = role('b', { kubernetes_groups: ['gb'] }, { kubernetes_groups: ['ga'] });
    expect(kubePrincipals([a, b], {}, [a]).groups).toEqual([]);
    expect(kubePrincipals([a], {}, [a]).groups).toEqual(['ga']);
  });
});

describe('permissionsOf', () => {
  it('grants what one role allows and none denies', () => {
    expect([...permissionsOf([role('a', { permissions: ['audit', 'admin'] }), role('b', {}, { permissions: ['admin'] })])]).toEqual(['audit']);
  });
});

describe('rule matching', () => {
  it('an allow rule covers all names or namespaces only with "*"', () => {
    expect(ruleCovers(rule({}), ask({ name: '' }))).toBe(true);
    expect(ruleCovers(rule({ name: 'web-*' }), ask({ name: '' }))).toBe(false);
    expect(ruleCovers(rule({ namespace: 'team-*' }), ask({ namespace: '' }))).toBe(false);
    expect(ruleCovers(rule({ namespace: 'team-*' }), ask({ namespace: 'team-a' }))).toBe(true);
  });

  it('"*" asked as verb, resource or group is covered only by "*"', () => {
    expect(ruleCovers(rule({}), ask({ verb: '*' }))).toBe(false);
    expect(ruleCovers(rule({ verbs: ['*'] }), ask({ verb: '*' }))).toBe(true);
    expect(ruleCovers(rule({}), ask({ resource: '*' }))).toBe(false);
    expect(ruleCovers(rule({ api_group: 'apps' }), ask({ apiGroup: '*' }))).toBe(false);
  });

  it('a deny rule overlaps every ask that includes part of it', () => {
    expect(ruleOverlaps(rule({ namespace: 'kube-system' }), ask({ namespace: '' }))).toBe(true);
    expect(ruleOverlaps(rule({ name: 'db' }), ask({ name: '' }))).toBe(true);
    expect(ruleOverlaps(rule({ kind: 'secrets' }), ask({ resource: '*' }))).toBe(true);
    expect(ruleOverlaps(rule({ verbs: ['delete'] }), ask({ verb: '*' }))).toBe(true);
    expect(ruleOverlaps(rule({ namespace: 'kube-system' }), ask({ namespace: 'default' }))).toBe(false);
    expect(ruleOverlaps(rule({ verbs: ['delete'] }), ask({ verb: 'get' }))).toBe(false);
  });
});

describe('evaluateKubeAccess', () => {
  const sso = role('sso', {
    kubernetes_labels: { env: 'dev' },
    kubernetes_groups: ['{{external.groups}}'],
    kubernetes_users: ['{{external.email}}'],
    kubernetes_resources: [rule({ verbs: ['get', 'list'] })],
  });
  const user: KubeIdentity = { user: 'ann', kubernetesUsers: ['ann@example.com'], kubernetesGroups: ['eng'], traits: { groups: ['eng'], email: ['ann@example.com'] } };

  it('impersonates the principals filled from the traits that the certificate also carries', () => {
    expect(evaluateKubeAccess(user, [sso], cluster, ask({}), { groups: [] })).toEqual({ allowed: true, kubernetesUser: 'ann@example.com', kubernetesGroups: ['eng'] });
  });

  it('drops a filled value the certificate does not carry (roles changed since login)', () => {
    expect(evaluateKubeAccess({ ...user, traits: { groups: ['eng', 'admins'], email: ['ann@example.com'] } }, [sso], cluster, ask({}), { groups: [] })).toMatchObject({
      kubernetesGroups: ['eng'],
    });
  });

  it('a role that does not reach the cluster lends it no principals', () => {
    const elsewhere = role('prod', { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['system:masters'] });
    const d = evaluateKubeAccess({ ...user, kubernetesGroups: ['eng', 'system:masters'] }, [sso, elsewhere], cluster, ask({}), { groups: ['system:masters'] });
    expect(d).toEqual({ allowed: false, reason: 'ann may not impersonate group system:masters' });
  });

  it('deduplicates asked groups', () => {
    expect(evaluateKubeAccess(user, [sso], cluster, ask({}), { user: 'ann@example.com', groups: ['eng', 'eng'] })).toMatchObject({ kubernetesGroups: ['eng'] });
  });
});
