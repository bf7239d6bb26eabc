// A stored request as the API shows it to one viewer.
import type { AccessRequestInfo, Role } from '@ztsh/protocol';
import type { AccessRequestRecord } from '../storage/storage.ts';
import { reviewRefusal } from './reviewers.ts';

const iso = (ms: number) => new Date(ms).toISOString();

export function requestInfo(r: AccessRequestRecord, viewer?: { user: string; roles: Role[] }): AccessRequestInfo {
  return {
    id: r.id,
    user: r.user,
    roles: r.roles,
    resources: r.resources,
    reason: r.reason,
    state: r.state,
    createdAt: iso(r.createdAt),
    pendingUntil: iso(r.pendingUntil),
    durationMs: r.durationMs,
    accessUntil: r.accessUntil === null ? null : iso(r.accessUntil),
    thresholds: r.thresholds,
    suggestedReviewers: r.suggestedReviewers,
    reviews: r.reviews,
    reviewable: viewer ? reviewRefusal(viewer.user, viewer.roles, r) === undefined : false,
  };
}
