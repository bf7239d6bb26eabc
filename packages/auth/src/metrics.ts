// The auth service's Prometheus metrics. Everything auth decides about a
// login or a certificate is an audit event, so the counters follow the
// audit log (onWritten) instead of being sprinkled through the login code:
// certificates issued and refused, login and second-factor failures by
// reason, and the log's own queue depth and write errors.
//
// Reasons are error codes and fixed words written in code; anything else
// (should a message ever reach `fields.reason`) is counted as "other", so no
// request can add series.
import { Counter, Gauge, type Registry } from 'prom-client';
import { ErrorCodes, type AuditEvent } from '@ztsh/protocol';
import type { AuditLog } from './audit/audit-log.ts';

/** The reasons auth writes besides error codes (see the audit.emit calls). */
const OTHER_REASONS = ['cross_site', 'credential_registered', 'unknown', 'wrong_type', 'expired', 'wrong_cluster', 'used'];
export const KNOWN_REASONS: ReadonlySet<string> = new Set([...Object.keys(ErrorCodes), ...OTHER_REASONS]);

/** Audit events that mean a certificate was issued, and for whom. */
const ISSUANCE: Readonly<Record<string, 'user' | 'host'>> = {
  'cert.issued': 'user',
  'agent.join': 'host',
  'proxy.join': 'host',
  'proxy.renew': 'host',
};

export interface AuthMetrics {
  /** Follows an audit log: issuance and login counters, its queue depth. Returns the unsubscribe. */
  attach(audit: AuditLog): () => void;
  /** Audit events that could not be written to storage. */
  auditWriteError(): void;
}

export function reasonLabel(reason: unknown): string {
  if (reason === undefined || reason === null || reason === '') return 'none';
  return typeof reason === 'string' && KNOWN_REASONS.has(reason) ? reason : 'other';
}

export function createAuthMetrics(registry: Registry): AuthMetrics {
  let log: AuditLog | undefined;
  const issued = new Counter({
    name: 'ztsh_certificates_issued_total',
    help: 'Certificates issued: user (login) and host (agent and proxy joins and renewals)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'ztsh_certificate_issuance_failures_total',
    help: 'Certificate requests refused, by kind and reason',
    labelNames: ['kind', 'reason'] as const,
    registers: [registry],
  });
  const loginFailures = new Counter({
    name: 'ztsh_login_failures_total',
    help: 'Failed logins and second-factor checks, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Zero series exist from the start, so rate() and alerts see them before the first event.
  for (const kind of ['user', 'host']) issued.inc({ kind }, 0);
  new Gauge({
    name: 'ztsh_audit_queue_depth',
    help: 'Audit events waiting to be written',
    registers: [registry],
    collect() {
      this.set(log?.pending ?? 0);
    },
  });
  const writeErrors = new Counter({ name: 'ztsh_audit_write_errors_total', help: 'Failed attempts to write audit events to storage', registers: [registry] });

  const count = (event: AuditEvent) => {
    const kind = ISSUANCE[event.type];
    if (kind) {
      if (event.success) issued.inc({ kind });
      else refused.inc({ kind, reason: reasonLabel(event.fields.reason) });
      return;
    }
    if ((event.type === 'user.login' || event.type === 'user.mfa') && !event.success) {
      loginFailures.inc({ reason: reasonLabel(event.fields.reason) });
    }
  };

  return {
    attach(audit) {
      log = audit;
      return audit.onWritten((events) => {
        for (const event of events) count(event);
      });
    },
    auditWriteError: () => writeErrors.inc(),
  };
}
