// The life of a request:
//
//   pending ──approvals ≥ thresholds.approve──▶ approved ──accessUntil──▶ expired
//      │ ──denials ≥ thresholds.deny──────────▶ denied
//      │ ──pendingUntil─────────────────────────────────────────────────▶ expired
//      └──the requester drops it (also once approved)──▶ dropped
//
// Each step is computed here from the record as read; the store writes it
// only if nobody changed the record since (its version).
import type { AccessRequestReview } from '@ztsh/protocol';
import type { AccessRequestRecord } from '../storage/storage.ts';

export type RequestPatch = Partial<Omit<AccessRequestRecord, 'id' | 'user' | 'version'>>;

/** The record after adding one review: still pending, or decided. */
export function withReview(request: AccessRequestRecord, review: AccessRequestReview, now: number): RequestPatch {
  const reviews = [...request.reviews, review];
  const approvals = reviews.filter((r) => r.decision === 'approve').length;
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
