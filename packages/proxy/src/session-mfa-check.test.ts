import { describe, expect, it } from 'vitest';
import { RoleSchema, type Identity, type Role } from '@ztsh/protocol';
import { markSessionMfa, sessionMfaOutcome } from './session-mfa-check.ts';

const role = (name: string, env: string[], options: Record<string, unknown> = {}): Role =>
  RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec: { options, allow: { kubernetes_labels: { env } } } });
const defined = new Map([
  ['developer', role('developer', ['dev', 'sandbox'])],
  ['prod-admin', role('prod-admin', ['prod'], { require_session_mfa: true, mfa_verification_interval: '15m' })],
]);
const auth = { roles: (names: string[]) => names.flatMap((n) => defined.get(n) ?? []) };
const now = new Date('2026-11-30T12:00:00Z');
const prod = { name: 'prod-a', labels: { env: 'prod' } };
const sandbox = { name: 'sandbox', labels: { env: 'sandbox' } };

function identity(extra: Partial<Identity> = {}): Identity {
  return { v: 1, user: 'alice', roles: ['developer'], kubernetesUsers: [], kubernetesGroups: [], traits: {}, mfaVerified: true, loginId: 'l1', connector: 'dev', issuedForIp: '127.0.0.1', ...extra };
}

describe('sessionMfaOutcome: whether a request passes', () => {
  it('asks nothing where no role of the certificate requires it', () => {
    expect(sessionMfaOutcome(auth, identity(), prod, now)).toMatchObject({ ok: true });
    expect(sessionMfaOutcome(auth, identity(), sandbox, now)).toMatchObject({ ok: true });
  });

  it('a role an access request granted makes prod need a check, as an own role would', () => {
    const elevated = identity({ accessRequests: [{ id: 'req-1', roles: ['prod-admin'] }] });
    expect(sessionMfaOutcome(auth, elevated, prod, now)).toMatchObject({ ok: false, reason: 'session_mfa_missing', message: expect.stringContaining('ztsh kube mfa --clusters prod-a') });
    expect(sessionMfaOutcome(auth, elevated, sandbox, now)).toMatchObject({ ok: true });
    const checked = { ...elevated, sessionMfa: { clusters: ['prod-a'], verifiedAt: now.getTime() - 15 * 60_000, method: 'totp' as const } };
    expect(sessionMfaOutcome(auth, checked, prod, now)).toMatchObject({ ok: true });
    expect(sessionMfaOutcome(auth, checked, prod, new Date(now.getTime() + 1))).toMatchObject({ ok: false, reason: 'session_mfa_stale' });
  });

  it('a role deleted from the config since the certificate was issued requires nothing (the roles\' verdict refuses it first)', () => {
    expect(sessionMfaOutcome(auth, identity({ roles: ['gone'] }), prod, now)).toMatchObject({ ok: true });
  });
});

describe('sessionMfaOutcome', () => {
  it('names the check a request passed only where the cluster asked for one', () => {
    const checked = identity({ roles: ['developer', 'prod-admin'], sessionMfa: { clusters: ['prod-a', 'prod-b'], verifiedAt: now.getTime() - 60_000, method: 'webauthn' } });
    expect(sessionMfaOutcome(auth, checked, prod, now)).toEqual({ ok: true, used: { method: 'webauthn', verifiedAt: '2026-11-30T11:59:00.000Z', clusters: ['prod-a', 'prod-b'] } });
    expect(sessionMfaOutcome(auth, checked, sandbox, now)).toEqual({ ok: true });
    expect(sessionMfaOutcome(auth, identity({ roles: ['prod-admin'] }), prod, now)).toMatchObject({ ok: false, reason: 'session_mfa_missing' });
  });
});

describe('markSessionMfa', () => {
  it('marks exactly the clusters that need a check for this certificate', () => {
    const elevated = identity({ accessRequests: [{ id: 'req-1', roles: ['prod-admin'] }] });
    expect(markSessionMfa(auth, elevated, [prod, sandbox])).toEqual([{ ...prod, sessionMfa: true }, sandbox]);
    expect(markSessionMfa(auth, identity(), [prod, sandbox])).toEqual([prod, sandbox]);
  });
});
