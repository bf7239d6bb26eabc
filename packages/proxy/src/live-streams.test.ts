import { RoleSchema, type AuthClient, type Identity, type Role } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { LiveStreams } from './live-streams.ts';

const auth = { lockFor: () => undefined, onLocksChanged: () => () => undefined } as unknown as AuthClient;

describe('LiveStreams expiry', () => {
  it('ends a stream once the clock passes its notAfter, even when the clock jumps rather than the timer firing', () => {
    let now = Date.parse('2026-11-30T12:00:00Z');
    const streams = new LiveStreams(auth, () => new Date(now));
    const ended: string[] = [];
    const untrack = streams.add({ user: 'alice', roles: ['developer', 'prod-admin'], notAfter: new Date(now + 3_600_000), end: (message, reason) => ended.push(`${reason}: ${message}`) });
    streams.endExpired();
    expect(ended).toEqual([]);
    now += 3_600_000;
    streams.endExpired();
    expect(ended).toEqual(['expired: your ztsh certificate expired at 2026-11-30T13:00:00.000Z: run ztsh login, then run the command again']);
    expect(streams.size).toBe(0);
    // Ended once only.
    streams.endExpired();
    expect(ended).toHaveLength(1);
    untrack();
    streams.close();
  });
});

describe('LiveStreams and a shortened mfa_verification_interval', () => {
  const prodAdmin = (interval: string): Role =>
    RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name: 'prod-admin' }, spec: { options: { require_session_mfa: true, mfa_verification_interval: interval }, allow: { kubernetes_labels: { env: ['prod'] } } } });
  const start = Date.parse('2026-11-30T12:00:00Z');
  const identity: Identity = {
    v: 1, user: 'alice', roles: ['prod-admin'], kubernetesUsers: [], kubernetesGroups: [], traits: {}, mfaVerified: true, loginId: 'l1', connector: 'dev', issuedForIp: '127.0.0.1',
    sessionMfa: { clusters: ['prod-a'], verifiedAt: start, method: 'totp' },
  };

  it('ends a stream whose check is older than the new interval at the next sweep, and keeps one still within it', () => {
    let now = start + 20 * 60_000;
    // The roles as the change feed left them: 1h at the stream's start, then 15m.
    let defined = prodAdmin('1h');
    const rolesAuth = { lockFor: () => undefined, onLocksChanged: () => () => undefined, roles: (names: string[]) => (names.includes('prod-admin') ? [defined] : []) } as unknown as AuthClient;
    const streams = new LiveStreams(rolesAuth, () => new Date(now));
    const ended: string[] = [];
    const notAfter = new Date(start + 3_600_000);
    const cluster = { name: 'prod-a', labels: { env: 'prod' } };
    streams.add({ user: 'alice', roles: ['prod-admin'], notAfter, sessionMfa: { identity, cluster }, end: (message, reason) => ended.push(`old ${reason}: ${message}`) });
    const fresher = { ...identity, sessionMfa: { ...identity.sessionMfa!, verifiedAt: start + 10 * 60_000 } };
    streams.add({ user: 'alice', roles: ['prod-admin'], notAfter, sessionMfa: { identity: fresher, cluster }, end: (message, reason) => ended.push(`fresh ${reason}: ${message}`) });
    // A stream on a cluster that asked for no check is not touched.
    streams.add({ user: 'alice', roles: ['prod-admin'], notAfter, end: () => ended.push('plain') });
    streams.endExpired();
    expect(ended).toEqual([]);

    defined = prodAdmin('15m');
    streams.endExpired();
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatch(/^old expired: .*ztsh kube mfa --clusters prod-a/);
    expect(streams.size).toBe(2);

    now = start + 25 * 60_000 + 1;
    streams.endExpired();
    expect(ended).toHaveLength(2);
    expect(ended[1]).toMatch(/^fresh expired: /);
    expect(streams.size).toBe(1);
    streams.close();
  });
});
