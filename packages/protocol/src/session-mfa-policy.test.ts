import { describe, expect, it } from 'vitest';
import type { EvaluatedRole } from './role-evaluator.ts';
import { RoleSchema } from './role-schema.ts';
import { certificateRoleNames, checkSessionMfa, sessionMfaInterval, sessionMfaIntervalMs, sessionMfaRequirement } from './session-mfa-policy.ts';

function role(name: string, labels: Record<string, string[]>, options: EvaluatedRole['spec']['options'] = {}): EvaluatedRole {
  return { metadata: { name }, spec: { options, allow: { kubernetes_labels: labels }, deny: {} } };
}

const dev = role('developer', { env: ['dev', 'sandbox'] });
const prod = role('prod-reader', { env: ['prod'] }, { require_session_mfa: true, mfa_verification_interval: '30m' });
const prodDefault = role('prod-oncall', { env: ['prod'] }, { require_session_mfa: true });
const everywhere = role('admin', { '*': ['*'] }, { require_session_mfa: true, mfa_verification_interval: '2h' });

describe('sessionMfaRequirement', () => {
  it('a cluster needs it only when a role that reaches it requires it', () => {
    expect(sessionMfaRequirement([dev, prod], { name: 'sandbox', labels: { env: 'sandbox' } })).toEqual({ required: false });
    expect(sessionMfaRequirement([dev, prod], { name: 'prod-a', labels: { env: 'prod' } })).toEqual({ required: true, intervalMs: 1_800_000, roles: ['prod-reader'] });
  });

  it('the smallest interval of the roles reaching the cluster wins; no interval means 1h', () => {
    expect(sessionMfaRequirement([prodDefault], { name: 'prod-a', labels: { env: 'prod' } })).toMatchObject({ intervalMs: 3_600_000 });
    expect(sessionMfaRequirement([everywhere, prodDefault, prod], { name: 'prod-a', labels: { env: 'prod' } })).toMatchObject({ intervalMs: 1_800_000 });
    // A role that reaches every cluster makes the dev cluster need it too.
    expect(sessionMfaRequirement([dev, everywhere], { name: 'sandbox', labels: { env: 'sandbox' } })).toMatchObject({ required: true, intervalMs: 7_200_000 });
  });

  it('a role that does not require it adds nothing, even reaching the cluster', () => {
    const loose = role('prod-viewer', { env: ['prod'] });
    expect(sessionMfaRequirement([loose], { name: 'prod-a', labels: { env: 'prod' } })).toEqual({ required: false });
  });
});

describe('sessionMfaInterval (what auth binds a certificate for)', () => {
  it('is the smallest interval of any role requiring it, else 1h', () => {
    expect(sessionMfaInterval([dev])).toBe(3_600_000);
    expect(sessionMfaInterval([dev, everywhere])).toBe(7_200_000);
    expect(sessionMfaInterval([everywhere, prod])).toBe(1_800_000);
    expect(sessionMfaInterval([everywhere, prodDefault])).toBe(3_600_000);
  });
});

describe('checkSessionMfa', () => {
  const now = new Date('2026-11-30T12:00:00Z');
  const check = (clusters: string[], ageMs: number) => ({ sessionMfa: { clusters, verifiedAt: now.getTime() - ageMs, method: 'totp' as const } });

  it('holds for a named cluster within the interval, up to its last millisecond', () => {
    expect(checkSessionMfa(check(['prod-a', 'prod-b'], 0), 'prod-b', 1_800_000, now)).toEqual({ ok: true });
    expect(checkSessionMfa(check(['prod-a'], 1_800_000), 'prod-a', 1_800_000, now)).toEqual({ ok: true });
  });

  it('refuses a certificate without a check, one for other clusters, and a stale one, each naming the one command', () => {
    const none = checkSessionMfa({}, 'prod-a', 1_800_000, now);
    expect(none).toMatchObject({ ok: false, reason: 'session_mfa_missing' });
    const other = checkSessionMfa(check(['prod-a'], 0), 'prod-b', 1_800_000, now);
    expect(other).toMatchObject({ ok: false, reason: 'session_mfa_other_cluster' });
    const stale = checkSessionMfa(check(['prod-a'], 1_800_001), 'prod-a', 1_800_000, now);
    expect(stale).toMatchObject({ ok: false, reason: 'session_mfa_stale' });
    for (const verdict of [none, other, stale]) {
      if (verdict.ok) throw new Error('expected a refusal');
      expect(verdict.message).toMatch(/: run ztsh kube mfa --clusters prod-[ab]$/);
    }
    expect(other.ok ? '' : other.message).toContain('--clusters prod-b');
    expect(stale.ok ? '' : stale.message).toContain('older than 30m');
  });

  it('matches cluster names exactly: no prefix, case or glob', () => {
    for (const name of ['prod', 'prod-a2', 'PROD-A', 'prod-*']) expect(checkSessionMfa(check(['prod-a'], 0), name, 60_000, now).ok).toBe(false);
    expect(checkSessionMfa(check(['*'], 0), 'prod-a', 60_000, now).ok).toBe(false);
  });
});

describe('role options', () => {
  const base = { kind: 'role', version: 'v1', metadata: { name: 'r' } };
  it('mfa_verification_interval must be at least a minute, and a duration', () => {
    expect(RoleSchema.safeParse({ ...base, spec: { options: { mfa_verification_interval: '1m' } } }).success).toBe(true);
    expect(RoleSchema.safeParse({ ...base, spec: { options: { mfa_verification_interval: '1h30m' } } }).success).toBe(true);
    for (const bad of ['0s', '59s', '1x', '', '99999999999999999999d']) {
      expect(RoleSchema.safeParse({ ...base, spec: { options: { mfa_verification_interval: bad } } }).success, bad).toBe(false);
    }
  });

  it('parses durations as the role schema writes them', () => {
    expect(sessionMfaIntervalMs('1h30m')).toBe(5_400_000);
    expect(() => sessionMfaIntervalMs('1h 30m')).toThrow();
  });
});

describe('certificateRoleNames', () => {
  it('is the own roles and those access requests granted, once each', () => {
    expect(certificateRoleNames({ roles: ['developer'], accessRequests: [{ id: 'r1', roles: ['prod-admin', 'developer'] }, { id: 'r2', roles: ['prod-admin'] }] })).toEqual(['developer', 'prod-admin']);
    expect(certificateRoleNames({ roles: ['developer'] })).toEqual(['developer']);
  });
});
