import { describe, expect, it } from 'vitest';
import { RoleSchema, type Role } from '@ztsh/protocol';
import { grantFor, type GrantOptions } from './role-set.ts';

const HOUR = 3_600_000;
const defaults: GrantOptions = { defaultTtlMs: 8 * HOUR, mfa: 'optional' };

type RoleSpecInput = {
  options?: { max_session_ttl?: string; require_mfa?: boolean };
  allow?: { kubernetes_groups?: string[]; kubernetes_users?: string[] };
  deny?: { kubernetes_groups?: string[]; kubernetes_users?: string[] };
};

/** A role as an operator writes it, run through the real schema (defaults filled). */
function role(name: string, spec: RoleSpecInput = {}): Role {
  return RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec });
}

describe('grantFor', () => {
  it('unions kube groups and users over all roles, sorted and without repeats', () => {
    const grant = grantFor(
      [
        role('dev', { allow: { kubernetes_groups: ['developers', 'viewers'], kubernetes_users: ['dev-bot'] } }),
        role('ops', { allow: { kubernetes_groups: ['viewers', 'admins'], kubernetes_users: ['alice'] } }),
      ],
      {},
      defaults,
    );
    expect(grant.kubernetesGroups).toEqual(['admins', 'developers', 'viewers']);
    expect(grant.kubernetesUsers).toEqual(['alice', 'dev-bot']);
    expect(grant.roles).toEqual(['dev', 'ops']);
  });

  it('grants nothing for no roles, with the default TTL and the cluster MFA policy', () => {
    expect(grantFor([], { email: ['a@x'] }, defaults)).toEqual({
      roles: [],
      traits: { email: ['a@x'] },
      kubernetesGroups: [],
      kubernetesUsers: [],
      requireMfa: false,
      maxTtlMs: 8 * HOUR,
    });
  });

  it('removes denied groups and users, even when another role allows them', () => {
    const grant = grantFor(
      [
        role('admin', { allow: { kubernetes_groups: ['system:masters', 'viewers'], kubernetes_users: ['root', 'alice'] } }),
        role('contractor', { deny: { kubernetes_groups: ['system:masters'], kubernetes_users: ['root'] } }),
      ],
      {},
      defaults,
    );
    expect(grant.kubernetesGroups).toEqual(['viewers']);
    expect(grant.kubernetesUsers).toEqual(['alice']);
  });

  it('applies deny whatever the order of the roles', () => {
    const allow = role('a', { allow: { kubernetes_groups: ['g1', 'g2'] } });
    const deny = role('d', { deny: { kubernetes_groups: ['g1'] } });
    expect(grantFor([deny, allow], {}, defaults).kubernetesGroups).toEqual(['g2']);
    expect(grantFor([allow, deny], {}, defaults).kubernetesGroups).toEqual(['g2']);
  });

  it('expands {{external.groups}} from the traits', () => {
    const grant = grantFor(
      [role('sso', { allow: { kubernetes_groups: ['{{external.groups}}', 'viewers'], kubernetes_users: ['{{ external.email }}'] } })],
      { groups: ['eng', 'oncall'], email: ['alice@example.com'] },
      defaults,
    );
    expect(grant.kubernetesGroups).toEqual(['eng', 'oncall', 'viewers']);
    expect(grant.kubernetesUsers).toEqual(['alice@example.com']);
  });

  it('expands to nothing when the trait is missing', () => {
    const grant = grantFor([role('sso', { allow: { kubernetes_groups: ['{{external.groups}}'] } })], {}, defaults);
    expect(grant.kubernetesGroups).toEqual([]);
  });

  it('expands templates in deny as well', () => {
    const grant = grantFor(
      [
        role('sso', { allow: { kubernetes_groups: ['{{external.groups}}'] } }),
        role('no-admins', { deny: { kubernetes_groups: ['{{external.blocked}}'] } }),
      ],
      { groups: ['eng', 'admins'], blocked: ['admins'] },
      defaults,
    );
    expect(grant.kubernetesGroups).toEqual(['eng']);
  });

  it('keeps a value that only looks like a template as it is', () => {
    const grant = grantFor([role('r', { allow: { kubernetes_groups: ['prefix-{{external.groups}}'] } })], { groups: ['eng'] }, defaults);
    expect(grant.kubernetesGroups).toEqual(['prefix-{{external.groups}}']);
  });

  it('passes the traits through to the grant', () => {
    const traits = { groups: ['eng'], email: ['alice@example.com'] };
    expect(grantFor([role('r')], traits, defaults).traits).toEqual(traits);
  });

  describe('certificate lifetime', () => {
    it('is the default TTL when no role sets max_session_ttl', () => {
      expect(grantFor([role('a'), role('b')], {}, defaults).maxTtlMs).toBe(8 * HOUR);
    });

    it('is the smallest max_session_ttl of the roles', () => {
      const roles = [role('long', { options: { max_session_ttl: '4h' } }), role('short', { options: { max_session_ttl: '1h30m' } }), role('none')];
      expect(grantFor(roles, {}, defaults).maxTtlMs).toBe(1.5 * HOUR);
    });

    it('never exceeds the default TTL, even if a role allows longer', () => {
      expect(grantFor([role('long', { options: { max_session_ttl: '24h' } })], {}, defaults).maxTtlMs).toBe(8 * HOUR);
    });
  });

  describe('second factor', () => {
    it('is not required when neither the cluster nor a role asks for it', () => {
      expect(grantFor([role('a', { options: { require_mfa: false } })], {}, defaults).requireMfa).toBe(false);
    });

    it('is required when one of the roles sets require_mfa', () => {
      expect(grantFor([role('a'), role('b', { options: { require_mfa: true } })], {}, defaults).requireMfa).toBe(true);
    });

    it("is required by the cluster policy 'required', whatever the roles say", () => {
      expect(grantFor([role('a', { options: { require_mfa: false } })], {}, { ...defaults, mfa: 'required' }).requireMfa).toBe(true);
    });
  });
});
