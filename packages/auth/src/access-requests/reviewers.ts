// Who may review a request: a user whose own roles' `allow.review_requests.
// roles` cover every role it grants, none of whose roles' `deny.
// review_requests.roles` names one of them. Never the requester. Only the
// roles of the login count (a certificate's elevated roles grant no review
// rights: callers' roles here come from the certificate's `roles`).
import type { Role } from '@ztsh/protocol';
import type { AccessRequestRecord } from '../storage/storage.ts';

/** The roles whose requests these roles may review: allowed by one, denied by none. */
export function reviewableRoles(reviewerRoles: readonly Role[]): Set<string> {
  const allowed = new Set(reviewerRoles.flatMap((r) => r.spec.allow.review_requests?.roles ?? []));
  for (const role of reviewerRoles) for (const denied of role.spec.deny.review_requests?.roles ?? []) allowed.delete(denied);
  return allowed;
}

/** Whether these roles may review requests for all of `roles`. */
export function rolesCover(reviewerRoles: Role[], roles: string[]): boolean {
  const allowed = reviewableRoles(reviewerRoles);
  return roles.length > 0 && roles.every((name) => allowed.has(name));
}

/** May see it: the requester, or someone whose roles could review it. */
export function maySee(user: string, reviewerRoles: Role[], request: AccessRequestRecord): boolean {
  return request.user === user || rolesCover(reviewerRoles, request.roles);
}

export type ReviewRefusal = 'own_request' | 'not_a_reviewer' | 'already_reviewed' | 'not_pending';

/** Why this user may not review this request now, or undefined when they may. */
export function reviewRefusal(user: string, reviewerRoles: Role[], request: AccessRequestRecord): ReviewRefusal | undefined {
  if (request.user === user) return 'own_request';
  if (!rolesCover(reviewerRoles, request.roles)) return 'not_a_reviewer';
  if (request.state !== 'pending') return 'not_pending';
  if (request.reviews.some((r) => r.reviewer === user)) return 'already_reviewed';
  return undefined;
}
