// Told of requests made and decided, so reviewers and requesters hear of
// them (webhook.ts sends them on). notify() must not block or throw: the
// API answers whatever becomes of a notification.
import type { AccessRequestInfo } from '@ztsh/protocol';

export type AccessRequestNotice = 'created' | 'approved' | 'denied';

export interface AccessRequestNotifier {
  notify(kind: AccessRequestNotice, request: AccessRequestInfo): void;
}

/** No notifications configured. */
export const noNotifier: AccessRequestNotifier = { notify: () => {} };
