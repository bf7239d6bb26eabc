// A recorded session (exec, attach, cp, port-forward) as the proxy reports it
// and auth stores it: one schema, and the type is what it parses to.
import { z } from 'zod';
import { RECORDING_FILE_NAME } from './cast-file.ts';

export const SESSION_KINDS = ['exec', 'attach', 'cp', 'portforward'] as const;
export const SessionKindSchema = z.enum(SESSION_KINDS);
export type SessionKind = z.infer<typeof SessionKindSchema>;

/** Times in ms since the epoch. */
export const SessionRecordSchema = z.object({
  id: z.uuid(),
  kind: SessionKindSchema,
  user: z.string(),
  roles: z.array(z.string()),
  cluster: z.string(),
  namespace: z.string(),
  pod: z.string(),
  container: z.string().nullable(),
  command: z.array(z.string()),
  tty: z.boolean(),
  kubernetesUser: z.string(),
  kubernetesGroups: z.array(z.string()),
  clientIp: z.string().nullable(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  exitCode: z.number().nullable(),
  /** Why it ended when not by itself: "locked", "proxy shutdown", "interrupted" (found unfinished after a crash), "replica lost" (its replica died; closed by another), "recording failed". */
  endReason: z.string().nullable(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  /** Relative to the recordings dir, named after the session (`.ztrec.gz`, or `.cast.gz` or `.cast` from before: cast-file.ts); null for port-forward (no content kept). */
  recordingPath: z.string().regex(new RegExp(`^\\d{4}-\\d{2}-\\d{2}/${RECORDING_FILE_NAME}$`)).nullable(),
  recordingSize: z.number().nullable(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

export const SessionPatchSchema = SessionRecordSchema.omit({ id: true }).partial();
export type SessionPatch = z.infer<typeof SessionPatchSchema>;
