// What the proxy needs from the auth service, and nothing more: the CAs to
// trust and the current definition of roles. In one process it is a direct
// call; split apart it would be HTTPS with the proxy's host certificate.
// The proxy never opens the database.
import type { AuthService, Role } from '@ztsh/auth';

export interface AuthClient {
  userCaCertificates(): string[];
  hostCaCertificates(): string[];
  /** The roles with these names as they are defined now; unknown names are skipped. */
  roles(names: string[]): Role[];
}

export function inProcessAuthClient(auth: AuthService): AuthClient {
  return {
    userCaCertificates: () => auth.userCa.trustBundle,
    hostCaCertificates: () => auth.hostCa.trustBundle,
    roles: (names) => names.flatMap((n) => auth.deps.roles.get(n) ?? []),
  };
}
