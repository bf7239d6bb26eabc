// The life of a request:
//
//   pending ──approvals ≥ thresholds.approve──▶ approved ──accessUntil──▶ expired
//                                                 └─approvals of locked reviewers
//                                                   no longer reach it──▶ expired
//      │ ──denials ≥ thresholds.deny──────────▶ denied
//      │ ──pendingUntil─────────────────────────────────────────────────▶ expired
//      └──the requester drops it (also once approved)──▶ dropped
//
// Approvals count only while their reviewer, and the roles they reviewed
// with, are not locked. Each step is computed here from the record as read; the store writes it
// only if nobody changed the record since (its version).
import type { AccessRequestReview } from '@ztsh/protocol';
import type { AccessRequestRecord } from '../storage/storage.ts';

export type RequestPatch = Partial<Omit<AccessRequestRecord, 'id' | 'user' | 'version'>>;

/** Whether a review still counts now: false for one whose reviewer (or a role they reviewed with) is locked. */
export type InGoodStanding = (review: AccessRequestReview) => boolean;

/** Approvals that count now: one from a reviewer locked since (stolen credentials) does not. */
export function standingApprovals(reviews: readonly AccessRequestReview[], inGoodStanding: InGoodStanding): number {
  return reviews.filter((r) => r.decision === 'approve' && inGoodStanding(r)).length;
}

/** An approved request whose approvals no longer reach its threshold: it gives no access any more. */
export function approvalLost(request: AccessRequestRecord, inGoodStanding: InGoodStanding): boolean {
  return request.state === 'approved' && standingApprovals(request.reviews, inGoodStanding) < request.thresholds.approve;
}

/** The record after adding one review: still pending, or decided. Denials all count: a deny only ever takes access away. */
export function withReview(request: AccessRequestRecord, review: AccessRequestReview, now: number, inGoodStanding: InGoodStanding): RequestPatch {
  const reviews = [...request.reviews, review];
  const approvals = standingApprovals(reviews, inGoodStanding);
  const denials = reviews.filter((r) => r.decision === 'deny').length;
  if (denials >= request.thresholds.deny) return { reviews, state: 'denied' };
  if (approvals >= request.thresholds.approve) return { reviews, state: 'approved', accessUntil: now + request.durationMs };
  return { reviews };
}

/** Whether time has ended this request at `now`. */
export function isDue(request: AccessRequestRecord, now: number): boolean {
  return (request.state === 'pending' && request.pendingUntil <= now) || (request.state === 'approved' && request.accessUntil !== null && request.accessUntil <= now);
}

/** Whether the requester may still drop it. */
export function droppable(request: AccessRequestRecord): boolean {
  return request.state === 'pending' || request.state === 'approved';
}
