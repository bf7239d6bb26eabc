// ztsh status: who this machine is logged in as, with what, until when.
// Read from the certificate itself, not from a cache of what the server said.
import { X509Certificate } from 'node:crypto';
import { identityFromCertificate } from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import { resolveProxy, type CliContext } from '../context.ts';
import { localTime } from '../local-time.ts';
import { safeJson, safeText } from '../terminal-safe.ts';

export function describeValidity(until: Date, now = new Date()): string {
  const ms = until.getTime() - now.getTime();
  if (ms <= 0) return 'EXPIRED';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return `valid for ${h > 0 ? `${h}h` : ''}${m}m`;
}

export interface StatusView {
  proxy: string;
  user: string;
  roles: string[];
  kubernetesGroups: string[];
  kubernetesUsers: string[];
  mfaVerified: boolean;
  mfaMethod: string | null;
  validFrom: string;
  validUntil: string;
  expired: boolean;
  serial: string;
  /** Approved access requests this certificate carries (ztsh login --request-id). */
  accessRequests: { id: string; roles: string[] }[];
}

export function statusOf(ctx: CliContext, proxy: URL): StatusView {
  const profile = ctx.home.readProfile(proxy);
  if (!profile) throw new CliError(`not logged in to ${proxy.origin}`, `run ztsh login --proxy ${proxy.origin}`);
  const cert = new X509Certificate(profile.certPem);
  const identity = identityFromCertificate(new Uint8Array(cert.raw));
  if (!identity) throw new CliError('the stored certificate carries no ztsh identity', `run ztsh login --proxy ${proxy.origin}`);
  const validUntil = new Date(cert.validTo);
  return {
    proxy: proxy.origin,
    user: identity.user,
    roles: identity.roles,
    kubernetesGroups: identity.kubernetesGroups,
    kubernetesUsers: identity.kubernetesUsers,
    mfaVerified: identity.mfaVerified,
    mfaMethod: identity.mfaMethod ?? null,
    validFrom: new Date(cert.validFrom).toISOString(),
    validUntil: validUntil.toISOString(),
    expired: validUntil.getTime() <= Date.now(),
    serial: cert.serialNumber.toLowerCase(),
    accessRequests: (identity.accessRequests ?? []).map((r) => ({ id: r.id, roles: r.roles })),
  };
}

export function status(ctx: CliContext, options: { proxy?: string; format: string }): void {
  const proxy = resolveProxy(ctx, options.proxy);
  const view = statusOf(ctx, proxy);
  if (options.format === 'json') {
    ctx.stdout(safeJson(view));
    return;
  }
  const list = (v: string[]) => (v.length ? safeText(v.join(', ')) : '-');
  ctx.stdout(
    [
      `> Proxy:        ${view.proxy}`,
      `  Logged in as: ${safeText(view.user)}`,
      `  Roles:        ${list(view.roles)}`,
      ...view.accessRequests.map((r) => `  Requested:    ${safeText(r.roles.join(', '))} (request ${safeText(r.id)})`),
      `  Kube groups:  ${list(view.kubernetesGroups)}`,
      `  Kube users:   ${list(view.kubernetesUsers)}`,
      `  MFA:          ${view.mfaVerified ? `verified (${safeText(view.mfaMethod)})` : 'not used'}`,
      `  Valid until:  ${localTime(view.validUntil)} [${describeValidity(new Date(view.validUntil))}]`,
      '',
    ].join('\n'),
  );
}
