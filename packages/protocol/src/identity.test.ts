import { describe, expect, it } from 'vitest';
import { IDENTITY_URI_PREFIX, identityFromUri, identityUri, type Identity } from './identity.ts';

const alice: Identity = {
  v: 1,
  user: 'alice',
  roles: ['developer'],
  kubernetesUsers: [],
  kubernetesGroups: ['developers'],
  traits: { groups: ['developers'], email: ['alice@example.com'] },
  mfaVerified: true,
  mfaMethod: 'totp',
  loginId: 'l1',
  connector: 'dev',
  issuedForIp: '127.0.0.1',
};

describe('identity URI', () => {
  it('round-trips, as a URI of URL-safe characters only', () => {
    const uri = identityUri(alice);
    expect(uri.startsWith(IDENTITY_URI_PREFIX)).toBe(true);
    expect(uri).toMatch(/^urn:ztsh:identity:v1:[A-Za-z0-9_-]+$/);
    expect(identityFromUri(uri)).toEqual(alice);
  });

  it('rejects other URIs and unknown fields, so nobody smuggles claims in', () => {
    expect(() => identityFromUri('spiffe://example.org/x')).toThrow(/not a ztsh identity/);
    const forged = IDENTITY_URI_PREFIX + Buffer.from(JSON.stringify({ ...alice, admin: true })).toString('base64url');
    expect(() => identityFromUri(forged)).toThrow();
  });
});
