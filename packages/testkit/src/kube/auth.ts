// Authentication and impersonation. One bearer token is valid (the agent's service account);
// Impersonate-User / Impersonate-Group (each group its own header) switch the identity that
// RBAC then checks. Headers are read from rawHeaders so repeated groups stay separate.
import { timingSafeEqual } from 'node:crypto';
import { failure, unauthorized, type KubeStatus } from './status.ts';

export const SERVICE_ACCOUNT_USER = 'system:serviceaccount:ztsh:ztsh-agent';

export interface Caller {
  kind: 'Caller';
  user: string;
  groups: string[];
  impersonated: boolean;
}

/** Header name (lowercased) → every value, in arrival order. Pseudo-headers (h2) are dropped. */
export function headerLists(rawHeaders: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    if (name.startsWith(':')) continue;
    const list = out.get(name) ?? [];
    list.push(rawHeaders[i + 1] ?? '');
    out.set(name, list);
  }
  return out;
}

export function authenticate(headers: Map<string, string[]>, token: string): Caller | KubeStatus {
  const auth = headers.get('authorization')?.[0] ?? '';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m?.[1] || !sameToken(m[1], token)) return unauthorized();

  const users = headers.get('impersonate-user') ?? [];
  const groups = headers.get('impersonate-group') ?? [];
  if (users.length === 0) {
    if (groups.length > 0) {
      return failure(500, 'InternalError', `Internal error occurred: requested [${groups.map((g) => `{Group  ${g}  authentication.k8s.io/v1  }`).join(' ')}] without impersonating a user`);
    }
    return { kind: 'Caller', user: SERVICE_ACCOUNT_USER, groups: ['system:serviceaccounts', 'system:authenticated'], impersonated: false };
  }
  return { kind: 'Caller', user: users[0] ?? '', groups: [...groups, 'system:authenticated'], impersonated: true };
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
