import { describe, expect, it } from 'vitest';
import { decodeIdentity, encodeIdentity, IDENTITY_EXTENSION_OID, type Identity } from './identity.ts';

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

describe('identity extension', () => {
  it('round-trips through DER', () => {
    expect(decodeIdentity(encodeIdentity(alice))).toEqual(alice);
  });

  it('uses long-form DER lengths for large identities', () => {
    const big = { ...alice, kubernetesGroups: Array.from({ length: 200 }, (_, i) => `group-${i}`) };
    const der = encodeIdentity(big);
    expect(der[1]).toBe(0x82);
    expect(decodeIdentity(der)).toEqual(big);
  });

  it('rejects a truncated or foreign value', () => {
    const der = encodeIdentity(alice);
    expect(() => decodeIdentity(der.subarray(0, der.length - 3))).toThrow(/length/);
    expect(() => decodeIdentity(Uint8Array.of(0x04, 0x00))).toThrow(/UTF8String/);
  });

  it('rejects unknown fields, so nobody smuggles claims in', () => {
    const json = new TextEncoder().encode(JSON.stringify({ ...alice, admin: true }));
    expect(() => decodeIdentity(Uint8Array.of(0x0c, 0x81, json.length, ...json))).toThrow();
  });

  it('lives under the UUID arc', () => {
    expect(IDENTITY_EXTENSION_OID).toMatch(/^2\.25\.\d{30,40}$/);
  });
});
