// Access requests: bodies of /v1/access-requests and the certificate
// re-issue that uses an approved one. The server's guard and the CLI both
// validate against these schemas.
//
//   POST   /v1/access-requests              AccessRequestCreate -> AccessRequestInfo (201)
//   GET    /v1/access-requests?state=S      -> AccessRequestsResponse (the caller's own and those the caller may review)
//   GET    /v1/access-requests/:id          -> AccessRequestInfo
//   POST   /v1/access-requests/:id/reviews  AccessRequestReviewBody -> AccessRequestInfo
//   DELETE /v1/access-requests/:id          -> AccessRequestInfo (state dropped; only its requester)
//   POST   /v1/certificates/reissue         CertificateReissueRequest -> Certificates (client certificate auth)
//
// GET /v1/clusters (the proxy's) also lists, as `requestable`, clusters the
// caller's roles do not reach but a role they may request would:
// `{ name, labels, roles }`, so `ztsh kube login` can print the exact
// `ztsh request create` command; the proxy's 403 for a kube request says it
// the same way.
import { z } from 'zod';
import { ClusterName } from './api.ts';

export const ACCESS_REQUEST_STATES = ['pending', 'approved', 'denied', 'dropped', 'expired'] as const;
export const AccessRequestState = z.enum(ACCESS_REQUEST_STATES);
export type AccessRequestState = z.infer<typeof AccessRequestState>;

/** The longest access any request may ask for. */
export const MAX_REQUEST_DURATION_MS = 7 * 86_400_000;

/** A single resource asked for: `/prod/pod/default/web-1` on the command line. Only pods, by name. */
export const RequestedResource = z.strictObject({
  cluster: ClusterName,
  kind: z.literal('pods'),
  namespace: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a namespace name'),
  name: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'must be a pod name'),
});
export type RequestedResource = z.infer<typeof RequestedResource>;

/**
 * `/<cluster>/pod/<namespace>/<name>` (or `pods`) as a RequestedResource,
 * or why not. Nothing else is accepted: no wildcards, no empty or extra
 * segments, no encodings.
 */
export function parseRequestedResource(text: string): { ok: true; resource: RequestedResource } | { ok: false; message: string } {
  const parts = text.split('/');
  if (parts.length !== 5 || parts[0] !== '') {
    return { ok: false, message: `resource "${text.slice(0, 200)}" must look like /<cluster>/pod/<namespace>/<name>` };
  }
  const [, cluster, kind, namespace, name] = parts as [string, string, string, string, string];
  if (kind !== 'pod' && kind !== 'pods') return { ok: false, message: `resource "${text.slice(0, 200)}": only pods can be requested one by one (request a role for more)` };
  const parsed = RequestedResource.safeParse({ cluster, kind: 'pods', namespace, name });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, message: `resource "${text.slice(0, 200)}": ${String(issue.path[0])} ${issue.message}` };
  }
  return { ok: true, resource: parsed.data };
}

export function formatRequestedResource(r: RequestedResource): string {
  return `/${r.cluster}/pod/${r.namespace}/${r.name}`;
}

/** "2h", "90m", "3d": how long the access lasts once approved. */
export const RequestDuration = z.string().regex(/^\d{1,6}(s|m|h|d)$/, 'must look like 30m, 2h or 3d');

export const AccessRequestCreate = z
  .strictObject({
    /** Roles asked for whole. */
    roles: z.array(z.string().min(1).max(63)).max(16).default([]),
    /** Single resources asked for (under the requester's search_as_roles). */
    resources: z.array(RequestedResource).max(32).default([]),
    reason: z.string().trim().min(1, 'a reason is required').max(1024),
    /** Default: the longest the roles allow (max_duration), else 1h. */
    duration: RequestDuration.optional(),
  })
  .refine((b) => b.roles.length > 0 || b.resources.length > 0, 'ask for at least one role or one resource');
export type AccessRequestCreate = z.input<typeof AccessRequestCreate>;

export const AccessRequestReview = z.strictObject({
  reviewer: z.string(),
  decision: z.enum(['approve', 'deny']),
  reason: z.string(),
  at: z.string(),
  /** The reviewer's login roles when they reviewed: a lock on one of them voids the approval. */
  roles: z.array(z.string()).optional(),
});
export type AccessRequestReview = z.infer<typeof AccessRequestReview>;

export const AccessRequestReviewBody = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  reason: z.string().trim().min(1, 'a reason is required').max(1024),
});
export type AccessRequestReviewBody = z.infer<typeof AccessRequestReviewBody>;

export const AccessRequestInfo = z.strictObject({
  id: z.string(),
  user: z.string(),
  roles: z.array(z.string()),
  resources: z.array(RequestedResource),
  reason: z.string(),
  state: AccessRequestState,
  createdAt: z.string(),
  /** A pending request not decided by then expires. */
  pendingUntil: z.string(),
  /** How long the access lasts once approved, in ms. */
  durationMs: z.number().int().positive(),
  /** Approved: when the access ends (approval time + duration). */
  accessUntil: z.string().nullable(),
  thresholds: z.strictObject({ approve: z.number().int(), deny: z.number().int() }),
  suggestedReviewers: z.array(z.string()),
  reviews: z.array(AccessRequestReview),
  /** Whether the caller may review it (not their own, their roles may, not decided yet). */
  reviewable: z.boolean(),
});
export type AccessRequestInfo = z.infer<typeof AccessRequestInfo>;

export const AccessRequestsResponse = z.strictObject({ requests: z.array(AccessRequestInfo) });
export type AccessRequestsResponse = z.infer<typeof AccessRequestsResponse>;

/** Re-issue the caller's certificate, for the same key, with these approved requests' roles. */
export const CertificateReissueRequest = z.strictObject({
  accessRequests: z.array(z.string().min(1).max(64)).min(1).max(8),
});
export type CertificateReissueRequest = z.infer<typeof CertificateReissueRequest>;
