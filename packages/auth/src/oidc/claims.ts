// Maps ID-token claims to roles (claims_to_roles) and to traits, the
// user's attributes that roles can refer to as {{external.<claim>}}.
import type { OidcConnectorConfig } from '../config.ts';

const PROTOCOL_CLAIMS = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'nonce', 'at_hash', 'c_hash', 'azp', 'auth_time', 'acr', 'amr', 'sid', 'jti']);

export function claimValues(claims: Record<string, unknown>, name: string): string[] {
  const value = claims[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'boolean' || typeof value === 'number') return [String(value)];
  return [];
}

export function traitsFrom(claims: Record<string, unknown>): Record<string, string[]> {
  const traits: Record<string, string[]> = {};
  for (const name of Object.keys(claims)) {
    if (PROTOCOL_CLAIMS.has(name)) continue;
    const values = claimValues(claims, name);
    if (values.length > 0) traits[name] = values;
  }
  return traits;
}

export function rolesFromClaims(connector: OidcConnectorConfig, claims: Record<string, unknown>): string[] {
  const roles = new Set<string>();
  for (const mapping of connector.claims_to_roles) {
    if (claimValues(claims, mapping.claim).includes(mapping.value)) mapping.roles.forEach((r) => roles.add(r));
  }
  return [...roles];
}
