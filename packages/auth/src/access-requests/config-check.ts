// Start-up checks of the roles' request and review_requests sections that
// the schema cannot make: every role named is defined, and no max_duration
// is longer than any request may last (7 days).
import { MAX_REQUEST_DURATION_MS, type Role, ZtshError } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';

export function checkRequestSections(roles: Map<string, Role>): void {
  const known = (name: string, path: string) => {
    if (!roles.has(name)) throw new ZtshError('invalid_config', `${path}: unknown role "${name}"`, { hint: `defined roles: ${[...roles.keys()].join(', ')}` });
  };
  for (const [roleName, role] of roles) {
    for (const side of ['allow', 'deny'] as const) {
      const at = `role ${roleName}: spec.${side}`;
      const request = role.spec[side].request;
      request?.roles?.forEach((r, i) => known(r, `${at}.request.roles[${i}]`));
      request?.search_as_roles?.forEach((r, i) => known(r, `${at}.request.search_as_roles[${i}]`));
      role.spec[side].review_requests?.roles.forEach((r, i) => known(r, `${at}.review_requests.roles[${i}]`));
      if (request?.max_duration !== undefined) {
        let ms = Infinity;
        try {
          ms = parseDuration(request.max_duration);
        } catch {
          // too long to count: refused below like any duration over 7 days
        }
        if (ms > MAX_REQUEST_DURATION_MS) {
          throw new ZtshError('invalid_config', `${at}.request.max_duration: "${request.max_duration}" is longer than 7 days`, { hint: 'use 7d or less' });
        }
      }
    }
  }
}
