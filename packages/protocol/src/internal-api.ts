// What a proxy that runs apart from auth and the auth service say to each
// other, over HTTPS with the proxy's host certificate (/v1/internal/...).
// Users never reach these routes: a proxy refuses to forward them, and auth
// answers them only for a proxy's own connection.
import { z } from 'zod';
import type { AuditEventType } from './audit-events.ts';
import { LockEntry } from './locks.ts';
import { SessionRecordSchema } from './session-record.ts';

/**
 * The events a proxy writes: what it decides and relays. Logins, certificates,
 * joins and locks happen at auth; a proxy's certificate cannot write them, so
 * a stolen one cannot forge them into the log (or into the metrics that count them).
 */
export const PROXY_EVENT_TYPES = [
  'kube.request',
  'session.start',
  'session.end',
  'port_forward.start',
  'port_forward.end',
  'api.request',
  'tunnel.refused',
  'tunnel.closed',
] as const satisfies readonly AuditEventType[];
export type ProxyEventType = (typeof PROXY_EVENT_TYPES)[number];

export const INTERNAL_PREFIX = '/v1/internal/';

/**
 * Headers a proxy adds to the user requests it forwards to auth: who the
 * client is (its certificate, if it showed one) and where it came from.
 * Taken from a proxy's connection only; a proxy drops any a client sent.
 */
export const FORWARDED_HEADERS = {
  /** Marks a forwarded request; its value is the client's IP address. */
  clientIp: 'x-ztsh-forwarded-for',
  /** The client certificate the user presented to the proxy (DER, base64). */
  clientCert: 'x-ztsh-forwarded-client-cert',
} as const;

/** Everything a proxy keeps of auth's state; sent whole at the start of the watch and after each change. */
export const ProxyState = z.object({
  userCaCertificates: z.array(z.string()).min(1),
  hostCaCertificates: z.array(z.string()).min(1),
  /** Role definitions as auth has them (the proxy checks them with the role schema). */
  roles: z.array(z.unknown()),
  /** Locks in force. */
  locks: z.array(LockEntry),
  /** Auth keeps recordings in its store: the proxy appends them in chunks instead of handing over files. */
  recordingsInStore: z.boolean().optional(),
});
export type ProxyState = z.infer<typeof ProxyState>;

/** A line of GET /v1/internal/watch: the state, or a heartbeat that says the link is alive. */
export const WatchLine = z.union([z.object({ state: ProxyState }), z.object({ heartbeat: z.number() })]);
export type WatchLine = z.infer<typeof WatchLine>;
/** How often auth sends a heartbeat on the watch. */
export const WATCH_HEARTBEAT_MS = 5_000;

export const AuditInputSchema = z.object({
  user: z.string().nullable().optional(),
  loginId: z.string().optional(),
  clientIp: z.string().optional(),
  message: z.string().optional(),
  fields: z.record(z.string(), z.unknown()).optional(),
});
/** What a caller says of an audit event; auth adds the time, code and chain. */
export type AuditInput = z.infer<typeof AuditInputSchema>;

export const AuditBatch = z.object({
  events: z
    .array(
      z.object({
        type: z.enum(PROXY_EVENT_TYPES),
        success: z.boolean(),
        /** Security events: on disk before auth answers. */
        durable: z.boolean(),
        input: AuditInputSchema,
      }),
    )
    .max(10_000),
});
export type AuditBatch = z.infer<typeof AuditBatch>;

export const SessionIndexSchema = z.object({ command: z.string(), content: z.string() });
export const SessionsResponse = z.object({ sessions: z.array(SessionRecordSchema) });

export const RenewRequest = z.strictObject({ publicKey: z.string().min(1).max(4096) });
