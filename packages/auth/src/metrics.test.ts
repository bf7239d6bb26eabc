import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from './audit/audit-log.ts';
import { systemClock } from './clock.ts';
import { createAuthMetrics, reasonLabel } from './metrics.ts';
import { openSqliteStorage } from './storage/sqlite.ts';
import type { Storage } from './storage/storage.ts';

const dirs: string[] = [];
const opened: Storage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) {
    try {
      await s.close();
    } catch {
      // closed by the test
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-auth-metrics-'));
  dirs.push(dir);
  const storage = openSqliteStorage(join(dir, 'ztsh.db'));
  opened.push(storage);
  const registry = new Registry();
  const metrics = createAuthMetrics(registry);
  const audit = createAuditLog(storage, systemClock, metrics);
  metrics.attach(audit);
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    return found?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };
  return { storage, audit, value };
}

describe('auth metrics follow the audit log', () => {
  it('counts user and host certificates issued, and refusals by kind and reason', async () => {
    const { audit, value } = setup();
    await audit.emit('cert.issued', true, { user: 'alice' });
    await audit.emit('agent.join', true, { fields: { cluster: 'prod' } });
    await audit.emit('proxy.renew', true, {});
    await audit.emit('cert.issued', false, { fields: { reason: 'code_invalid' } });
    await audit.emit('agent.join', false, { fields: { reason: 'expired' } });
    expect(await value('ztsh_certificates_issued_total', { kind: 'user' })).toBe(1);
    expect(await value('ztsh_certificates_issued_total', { kind: 'host' })).toBe(2);
    expect(await value('ztsh_certificate_issuance_failures_total', { kind: 'user', reason: 'code_invalid' })).toBe(1);
    expect(await value('ztsh_certificate_issuance_failures_total', { kind: 'host', reason: 'expired' })).toBe(1);
  });

  it('counts login and second-factor failures by reason; successes and other events are not failures', async () => {
    const { audit, value } = setup();
    await audit.emit('user.login', false, { fields: { reason: 'no_roles' } });
    await audit.emit('user.mfa', false, { fields: { reason: 'mfa_failed' } });
    await audit.emit('user.mfa', false, { fields: { reason: 'mfa_failed' } });
    await audit.emit('user.login', true, {});
    await audit.emit('kube.request', false, { fields: { reason: 'denied' } });
    expect(await value('ztsh_login_failures_total', { reason: 'no_roles' })).toBe(1);
    expect(await value('ztsh_login_failures_total', { reason: 'mfa_failed' })).toBe(2);
    expect(await value('ztsh_login_failures_total', { reason: 'denied' })).toBeUndefined();
  });

  it('a reason that is no code or known word is "other": no text from a request becomes a label', () => {
    expect(reasonLabel('mfa_failed')).toBe('mfa_failed');
    expect(reasonLabel('cross_site')).toBe('cross_site');
    expect(reasonLabel('<script>')).toBe('other');
    expect(reasonLabel('constructor')).toBe('other');
    expect(reasonLabel({ toString: () => 'mfa_failed' })).toBe('other');
    expect(reasonLabel(undefined)).toBe('none');
  });

  it('reads the queue depth from the log, and counts a write that storage refuses', async () => {
    const { storage, audit, value } = setup();
    audit.queue('kube.request', true, {});
    audit.queue('kube.request', true, {});
    expect(await value('ztsh_audit_queue_depth')).toBe(2);
    await audit.flush();
    expect(await value('ztsh_audit_queue_depth')).toBe(0);
    await storage.close();
    await expect(audit.emit('user.login', false, {})).rejects.toThrow();
    expect(await value('ztsh_audit_write_errors_total')).toBe(1);
  });
});
