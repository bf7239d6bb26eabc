// The auditors' and administrators' API: audit search, chain verification,
// recordings, locks. Shared by ztshd, the CLI and the web page.
import { z } from 'zod';
import { AuditEventSchema } from './audit-events.ts';
import { LockEntry } from './locks.ts';
import { SessionRecordSchema } from './session-record.ts';

export const AuditSearchResponse = z.object({
  events: z.array(AuditEventSchema),
  /** Pass as `before` for the next page; absent on the last page. */
  next: z.string().optional(),
});
export type AuditSearchResponse = z.infer<typeof AuditSearchResponse>;

export const AuditVerifyResponse = z.union([
  z.object({ ok: z.literal(true), events: z.number(), lastSeq: z.number(), lastHash: z.string() }),
  z.object({ ok: z.literal(false), events: z.number(), brokenAt: z.number(), problem: z.string() }),
]);
export type AuditVerifyResponse = z.infer<typeof AuditVerifyResponse>;

/** A session as the API shows it: times as ISO strings, and whether its content was recorded. */
export const SessionSchema = SessionRecordSchema.omit({ id: true, startedAt: true, endedAt: true, recordingPath: true }).extend({
  id: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  recorded: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionSchema>;

export const RecordingsResponse = z.object({ sessions: z.array(SessionSchema), next: z.string().optional() });
export type RecordingsResponse = z.infer<typeof RecordingsResponse>;

export const RecordingResponse = z.object({ session: SessionSchema, events: z.array(AuditEventSchema) });
export type RecordingResponse = z.infer<typeof RecordingResponse>;

/** A lock as the API shows it: times as ISO strings. */
export const LockSchema = z.object({
  id: z.string(),
  target: LockEntry.shape.target,
  message: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});
export type LockInfo = z.infer<typeof LockSchema>;

export const LockCreateRequest = z
  .strictObject({
    user: z.string().min(1).optional(),
    role: z.string().min(1).optional(),
    /** An access request id (a UUID, as auth makes them): every certificate re-issued under it. */
    accessRequest: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be an access request id (ztsh request ls lists them)').optional(),
    ttl: z.string().regex(/^(\d+[smhd])+$/, 'must be a duration like 30m or 8h').optional(),
    message: z.string().max(500).optional(),
  })
  .refine((b) => (b.user ? 1 : 0) + (b.role ? 1 : 0) + (b.accessRequest ? 1 : 0) === 1, 'give exactly one of user, role and accessRequest');
export type LockCreateRequest = z.infer<typeof LockCreateRequest>;

export const LocksResponse = z.object({ locks: z.array(LockSchema) });
