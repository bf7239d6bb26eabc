import { describe, expect, it } from 'vitest';
import { RoleSchema, type Role } from '@ztsh/protocol';
import { checkRequestSections } from './config-check.ts';
import { planRequest, requestableRoles } from './policy.ts';
import { reviewRefusal, rolesCover } from './reviewers.ts';
import { isDue, withReview } from './state.ts';
import type { AccessRequestRecord } from '../storage/storage.ts';

const role = (name: string, spec: Record<string, unknown> = {}): Role => RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec });

const prodAdmin = role('prod-admin', { allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-admins'] } });
const prodReader = role('prod-reader');
const dbAdmin = role('db-admin');
const developer = role('developer', {
  allow: {
    request: {
      roles: ['prod-admin', 'prod-reader'],
      search_as_roles: ['prod-reader', 'prod-admin'],
      kubernetes_resources: [{ kind: 'pods', namespace: 'default', name: 'web-*' }],
      max_duration: '4h',
      thresholds: [{ approve: 1, deny: 1 }],
      suggested_reviewers: ['bob', 'alice'],
    },
  },
  deny: { request: { kubernetes_resources: [{ kind: 'pods', namespace: 'default', name: 'web-secret' }] } },
});
const strict = role('strict', { allow: { request: { roles: ['prod-admin'], thresholds: [{ approve: 2, deny: 3 }], max_duration: '2h' } } });
const noDb = role('no-db', { deny: { request: { roles: ['db-admin', 'prod-admin'] } } });
const reviewer = role('reviewer', { allow: { review_requests: { roles: ['prod-admin', 'prod-reader'] } } });
const defined = new Map([prodAdmin, prodReader, dbAdmin, developer, strict, noDb, reviewer].map((r) => [r.metadata.name, r]));
const pod = (name: string, namespace = 'default') => ({ cluster: 'prod', kind: 'pods' as const, namespace, name });

describe('what may be requested', () => {
  it('a role listed in allow.request.roles, for the duration asked, the strictest thresholds and the suggested reviewers but oneself', () => {
    expect(planRequest('alice', [developer], defined, { roles: ['prod-admin'], resources: [], duration: '2h' })).toEqual({
      roles: ['prod-admin'],
      resources: [],
      durationMs: 2 * 3_600_000,
      thresholds: { approve: 1, deny: 1 },
      suggestedReviewers: ['bob'],
    });
    expect(planRequest('alice', [developer, strict], defined, { roles: ['prod-admin'], resources: [] })).toMatchObject({
      durationMs: 2 * 3_600_000, // the smallest max_duration is the default and the limit
      thresholds: { approve: 2, deny: 1 },
    });
  });

  it('refuses roles not listed, denied, unknown or already held, and durations past the limit or 7 days', () => {
    expect(() => planRequest('alice', [developer], defined, { roles: ['db-admin'], resources: [] })).toThrow(/may not request role "db-admin"/);
    expect(() => planRequest('alice', [developer, noDb], defined, { roles: ['prod-admin'], resources: [] })).toThrow(/no-db denies requesting role "prod-admin"/);
    expect(() => planRequest('alice', [developer], defined, { roles: ['ghost'], resources: [] })).toThrow(/unknown role "ghost"/);
    expect(() => planRequest('alice', [developer, prodAdmin], defined, { roles: ['prod-admin'], resources: [] })).toThrow(/already have role/);
    expect(() => planRequest('alice', [developer], defined, { roles: ['prod-admin'], resources: [], duration: '5h' })).toThrow(/longer than your roles allow \(4h\)/);
    expect(() => planRequest('alice', [developer], defined, { roles: ['prod-admin'], resources: [], duration: '0m' })).toThrow(/longer than 0/);
    const open = role('open', { allow: { request: { roles: ['prod-admin'] } } });
    expect(planRequest('alice', [open], defined, { roles: ['prod-admin'], resources: [] }).durationMs).toBe(3_600_000);
    expect(planRequest('alice', [open], defined, { roles: ['prod-admin'], resources: [], duration: '7d' }).durationMs).toBe(7 * 86_400_000);
    expect(() => planRequest('alice', [open], defined, { roles: ['prod-admin'], resources: [], duration: '169h' })).toThrow(/7d/);
    expect(requestableRoles([developer, noDb])).toEqual(['prod-reader']);
  });

  it('single pods: under search_as_roles, within kubernetes_resources, never a denied pod; --roles picks among search_as_roles', () => {
    expect(planRequest('alice', [developer], defined, { roles: [], resources: [pod('web-1'), pod('web-1'), pod('web-2')] })).toMatchObject({
      roles: ['prod-reader', 'prod-admin'],
      resources: [pod('web-1'), pod('web-2')],
    });
    expect(planRequest('alice', [developer], defined, { roles: ['prod-reader'], resources: [pod('web-1')] }).roles).toEqual(['prod-reader']);
    expect(() => planRequest('alice', [developer], defined, { roles: ['db-admin'], resources: [pod('web-1')] })).toThrow(/cannot be requested for single pods/);
    expect(() => planRequest('alice', [developer], defined, { roles: [], resources: [pod('api-1')] })).toThrow(/may not request this pod/);
    expect(() => planRequest('alice', [developer], defined, { roles: [], resources: [pod('web-1', 'kube-system')] })).toThrow(/may not request/);
    expect(() => planRequest('alice', [developer], defined, { roles: [], resources: [pod('web-secret')] })).toThrow(/developer denies requesting/);
    expect(() => planRequest('alice', [strict], defined, { roles: [], resources: [pod('web-1')] })).toThrow(/may not request this pod/);
  });
});

describe('who reviews', () => {
  const request = (over: Partial<AccessRequestRecord> = {}): AccessRequestRecord => ({
    id: 'r', user: 'alice', roles: ['prod-admin'], resources: [], reason: 'x', state: 'pending', createdAt: 0, pendingUntil: 100, durationMs: 50,
    accessUntil: null, thresholds: { approve: 2, deny: 1 }, suggestedReviewers: [], reviews: [], version: 1, ...over,
  });
  it('a role whose review_requests covers every role asked, not the requester, once, while pending', () => {
    expect(rolesCover([reviewer], ['prod-admin', 'prod-reader'])).toBe(true);
    expect(rolesCover([reviewer], ['prod-admin', 'db-admin'])).toBe(false);
    expect(rolesCover([reviewer, role('x', { deny: { review_requests: { roles: ['prod-admin'] } } })], ['prod-admin'])).toBe(false);
    expect(rolesCover([developer], ['prod-admin'])).toBe(false);
    expect(reviewRefusal('bob', [reviewer], request())).toBeUndefined();
    expect(reviewRefusal('alice', [reviewer], request())).toBe('own_request');
    expect(reviewRefusal('carol', [developer], request())).toBe('not_a_reviewer');
    expect(reviewRefusal('bob', [reviewer], request({ state: 'approved' }))).toBe('not_pending');
    expect(reviewRefusal('bob', [reviewer], request({ reviews: [{ reviewer: 'bob', decision: 'approve', reason: 'ok', at: '' }] }))).toBe('already_reviewed');
  });

  it('decides at the thresholds: approvals start the access, one denial (deny: 1) ends it', () => {
    const review = (reviewer: string, decision: 'approve' | 'deny') => ({ reviewer, decision, reason: 'r', at: '' });
    const counts = () => true;
    const first = withReview(request(), review('bob', 'approve'), 10, counts);
    expect(first.state).toBeUndefined();
    const second = withReview(request({ reviews: first.reviews! }), review('dan', 'approve'), 20, counts);
    expect(second).toMatchObject({ state: 'approved', accessUntil: 70 });
    expect(withReview(request(), review('bob', 'deny'), 10, counts).state).toBe('denied');
    expect(isDue(request(), 99)).toBe(false);
    expect(isDue(request(), 100)).toBe(true);
    expect(isDue(request({ state: 'approved', accessUntil: 200 }), 150)).toBe(false);
    expect(isDue(request({ state: 'approved', accessUntil: 200 }), 200)).toBe(true);
    expect(isDue(request({ state: 'denied' }), 1e12)).toBe(false);
  });
});

describe('start-up checks', () => {
  it('names unknown roles and max_duration over 7 days by their path', () => {
    expect(() => checkRequestSections(defined)).not.toThrow();
    const bad = (spec: Record<string, unknown>) => new Map([['bad', role('bad', spec)], ['prod-admin', prodAdmin]]);
    expect(() => checkRequestSections(bad({ allow: { request: { roles: ['nope'] } } }))).toThrow(/role bad: spec.allow.request.roles\[0\]: unknown role "nope"/);
    expect(() => checkRequestSections(bad({ allow: { request: { search_as_roles: ['prod-admin', 'nope'] } } }))).toThrow(/search_as_roles\[1\]/);
    expect(() => checkRequestSections(bad({ allow: { review_requests: { roles: ['nope'] } } }))).toThrow(/review_requests.roles\[0\]/);
    expect(() => checkRequestSections(bad({ allow: { request: { roles: ['prod-admin'], max_duration: '8d' } } }))).toThrow(/max_duration: "8d" is longer than 7 days/);
    expect(() => checkRequestSections(bad({ allow: { request: { roles: ['prod-admin'], max_duration: '99999999999999999999d' } } }))).toThrow(/longer than 7 days/);
  });
});
