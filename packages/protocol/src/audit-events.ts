// The audit event catalogue. Codes are stable: SIEM rules and saved searches
// key on them, so a code is never reused for another meaning.
import { z } from 'zod';

export const AuditEventTypes = {
  'user.login': { success: 'ZA1000I', failure: 'ZA1000W' },
  'user.mfa': { success: 'ZA1100I', failure: 'ZA1100W' },
  'user.mfa.enroll': { success: 'ZA1101I', failure: 'ZA1101W' },
  'cert.issued': { success: 'ZA1200I', failure: 'ZA1200W' },
  'join_token.created': { success: 'ZA1300I', failure: 'ZA1300W' },
  'join_token.removed': { success: 'ZA1301I', failure: 'ZA1301W' },
  'agent.join': { success: 'ZA1302I', failure: 'ZA1302W' },
  /** A proxy that runs apart from auth joins with its token, or renews its host certificate. */
  'proxy.join': { success: 'ZA1303I', failure: 'ZA1303W' },
  'proxy.renew': { success: 'ZA1304I', failure: 'ZA1304W' },
  /** An agent's tunnel upgrade refused (no valid agent host certificate, bad labels); `fields.reason` says why. */
  'tunnel.refused': { success: 'ZA1305I', failure: 'ZA1305W' },
  /** A tunnel the proxy closed because its agent broke the protocol; `fields.reason` and `fields.closeCode` say how. */
  'tunnel.closed': { success: 'ZA1306I', failure: 'ZA1306W' },
  /** Every request to a cluster, allowed (I) or refused (W). */
  'kube.request': { success: 'ZA2000I', failure: 'ZA2000W' },
  /** exec, attach and cp: a recorded session begins and ends. */
  'session.start': { success: 'ZA2100I', failure: 'ZA2100W' },
  'session.end': { success: 'ZA2101I', failure: 'ZA2101W' },
  /** port-forward: start, stop and bytes; no content is kept. */
  'port_forward.start': { success: 'ZA2200I', failure: 'ZA2200W' },
  'port_forward.end': { success: 'ZA2201I', failure: 'ZA2201W' },
  'lock.created': { success: 'ZA3000I', failure: 'ZA3000W' },
  'lock.removed': { success: 'ZA3001I', failure: 'ZA3001W' },
  /** Access requests: asked for, reviewed (approve or deny), withdrawn, ended by time, and used for a certificate. */
  'access_request.create': { success: 'ZA5000I', failure: 'ZA5000W' },
  'access_request.review': { success: 'ZA5001I', failure: 'ZA5001W' },
  'access_request.drop': { success: 'ZA5002I', failure: 'ZA5002W' },
  'access_request.expire': { success: 'ZA5003I', failure: 'ZA5003W' },
  'access_request.use': { success: 'ZA5004I', failure: 'ZA5004W' },
  /** Looking one request up by id; only refusals are recorded (an id not there, or not the caller's to see): someone knocked. */
  'access_request.view': { success: 'ZA5005I', failure: 'ZA5005W' },
  /** A session MFA check (ztsh kube mfa, or the credential plugin's prompt): a certificate bound to clusters, or a failed code. */
  'session_mfa.verify': { success: 'ZA5100I', failure: 'ZA5100W' },
  /** A request to the auditors' or admins' API or the web page, refused (401, 403); `fields.reason` says why. */
  'api.request': { success: 'ZA4000I', failure: 'ZA4000W' },
} as const;

export type AuditEventType = keyof typeof AuditEventTypes;

export const AuditEventSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  time: z.string(),
  type: z.string(),
  code: z.string(),
  success: z.boolean(),
  user: z.string().optional(),
  loginId: z.string().optional(),
  clientIp: z.string().optional(),
  message: z.string().optional(),
  fields: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export type AuditEvent = z.infer<typeof AuditEventSchema>;

export function auditCode(type: AuditEventType, success: boolean): string {
  return AuditEventTypes[type][success ? 'success' : 'failure'];
}
