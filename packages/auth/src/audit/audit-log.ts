// Appends audit events to the hash-chained log in storage. Callers pass
// only what is safe to keep: no secrets, codes or tokens.
import { auditCode, type AuditEvent, type AuditEventType } from '@ztsh/protocol';
import type { Clock } from '../clock.ts';
import type { Storage } from '../storage/storage.ts';

export interface AuditInput {
  user?: string | null | undefined;
  loginId?: string | undefined;
  clientIp?: string | undefined;
  message?: string | undefined;
  fields?: Record<string, unknown>;
}

export interface AuditLog {
  emit(type: AuditEventType, success: boolean, input: AuditInput): AuditEvent;
}

export function createAuditLog(storage: Storage, clock: Clock): AuditLog {
  return {
    emit(type, success, input) {
      return storage.audit.append({
        time: clock.now().toISOString(),
        type,
        code: auditCode(type, success),
        success,
        ...(input.user ? { user: input.user } : {}),
        ...(input.loginId ? { loginId: input.loginId } : {}),
        ...(input.clientIp ? { clientIp: input.clientIp } : {}),
        ...(input.message ? { message: input.message } : {}),
        fields: input.fields ?? {},
      });
    },
  };
}
