import { describe, expect, it } from 'vitest';
import { OidcConnectorSchema, type OidcConnectorConfig } from '../config.ts';
import { claimValues, rolesFromClaims, traitsFrom } from './claims.ts';

function connector(claimsToRoles: OidcConnectorConfig['claims_to_roles']): OidcConnectorConfig {
  return OidcConnectorSchema.parse({
    name: 'corp',
    type: 'oidc',
    issuer: 'https://idp.example.com',
    client_id: 'ztsh',
    client_secret: 'secret',
    claims_to_roles: claimsToRoles,
  });
}

describe('claimValues', () => {
  it('reads a string as one value', () => {
    expect(claimValues({ email: 'alice@example.com' }, 'email')).toEqual(['alice@example.com']);
  });

  it('reads the strings of an array and drops anything else in it', () => {
    expect(claimValues({ groups: ['eng', 7, null, { a: 1 }, 'ops', true] }, 'groups')).toEqual(['eng', 'ops']);
  });

  it('turns booleans and numbers into strings', () => {
    expect(claimValues({ email_verified: true }, 'email_verified')).toEqual(['true']);
    expect(claimValues({ level: 3 }, 'level')).toEqual(['3']);
    expect(claimValues({ off: false }, 'off')).toEqual(['false']);
  });

  it('gives nothing for a missing claim, null or an object', () => {
    expect(claimValues({}, 'groups')).toEqual([]);
    expect(claimValues({ groups: null }, 'groups')).toEqual([]);
    expect(claimValues({ address: { country: 'NL' } }, 'address')).toEqual([]);
  });
});

describe('traitsFrom', () => {
  it('keeps user claims and leaves out the protocol ones', () => {
    const traits = traitsFrom({
      iss: 'https://idp.example.com',
      aud: 'ztsh',
      exp: 1,
      iat: 1,
      nbf: 1,
      nonce: 'n',
      at_hash: 'h',
      c_hash: 'h',
      azp: 'ztsh',
      auth_time: 1,
      acr: '1',
      amr: ['pwd'],
      sid: 's',
      jti: 'j',
      sub: 'user-1',
      email: 'alice@example.com',
      groups: ['eng', 'oncall'],
      email_verified: true,
    });
    expect(traits).toEqual({
      sub: ['user-1'],
      email: ['alice@example.com'],
      groups: ['eng', 'oncall'],
      email_verified: ['true'],
    });
  });

  it('leaves out claims with no usable value', () => {
    expect(traitsFrom({ groups: [], address: { country: 'NL' }, name: null, email: 'a@x' })).toEqual({ email: ['a@x'] });
  });
});

describe('rolesFromClaims', () => {
  const corp = connector([
    { claim: 'groups', value: 'eng', roles: ['dev', 'viewer'] },
    { claim: 'groups', value: 'sre', roles: ['ops', 'viewer'] },
    { claim: 'email', value: 'boss@example.com', roles: ['admin'] },
    { claim: 'email_verified', value: 'true', roles: ['verified'] },
  ]);

  it('maps each matching claim value to its roles, once each', () => {
    expect(rolesFromClaims(corp, { groups: ['eng', 'sre'] }).sort()).toEqual(['dev', 'ops', 'viewer']);
  });

  it('matches a single-valued claim', () => {
    expect(rolesFromClaims(corp, { email: 'boss@example.com' })).toEqual(['admin']);
  });

  it('matches a boolean claim by its string form', () => {
    expect(rolesFromClaims(corp, { email_verified: true })).toEqual(['verified']);
    expect(rolesFromClaims(corp, { email_verified: false })).toEqual([]);
  });

  it('gives no roles when nothing matches', () => {
    expect(rolesFromClaims(corp, { groups: ['marketing'], email: 'alice@example.com' })).toEqual([]);
    expect(rolesFromClaims(corp, {})).toEqual([]);
  });

  it('matches values exactly: no prefix, substring or case folding', () => {
    expect(rolesFromClaims(corp, { groups: ['Eng', 'engineering', 'en'] })).toEqual([]);
    expect(rolesFromClaims(corp, { groups: 'eng sre' })).toEqual([]);
  });

  it('does not match a value found under another claim', () => {
    expect(rolesFromClaims(corp, { department: 'eng' })).toEqual([]);
  });
});
