// Who is calling the auditor and admin APIs: a client certificate from
// `ztsh login` (the CLI), or a web session from signing in on the auditors'
// page. Either way the permission comes from the roles as defined now.
import type { Context } from 'koa';
import { certificateRoleNames, peerRefusalMessage, type Permissions, permissionsOf as evaluatedPermissions, type Role, ZtshError } from '@ztsh/protocol';
import { lockMessage } from '../locks/locks.ts';
import { clientCertificate } from './forwarded.ts';
import type { LoginDeps } from '../login/login-deps.ts';

export type Permission = (typeof Permissions)[number];

export interface Caller {
  user: string;
  roles: string[];
  permissions: Set<Permission>;
  via: 'certificate' | 'web';
  /** When the credentials end: the certificate's notAfter, or the web session's expiry. */
  validUntil: Date;
}

/** The API permissions these roles grant: the one role evaluator's answer (allow less deny). */
export function permissionsOf(roles: Role[]): Set<Permission> {
  return evaluatedPermissions(roles) as Set<Permission>;
}


/** What is known of a refused caller, for the audit record. */
export interface RefusedCaller {
  user?: string | undefined;
  roles?: string[] | undefined;
  via?: Caller['via'] | undefined;
  /** The certificate named this user but was outside its validity. */
  certificateExpired?: { notAfter: Date } | undefined;
}

/**
 * Records a refused API request as a security event (on disk before the
 * answer goes out), then throws the refusal. The user is whoever the
 * credentials named, even when they no longer count (an expired certificate).
 */
export async function refuse(ctx: Context, deps: Pick<LoginDeps, 'audit'>, error: ZtshError, who: RefusedCaller, reason: string, fields: Record<string, unknown> = {}): Promise<never> {
  await deps.audit.emit('api.request', false, {
    user: who.user,
    clientIp: ctx.ip,
    message: error.message,
    fields: {
      method: ctx.method,
      path: ctx.path,
      status: error.status,
      reason,
      ...(who.via ? { via: who.via } : {}),
      ...(who.roles ? { roles: who.roles } : {}),
      ...(who.certificateExpired ? { certificateExpired: true, notAfter: who.certificateExpired.notAfter.toISOString() } : {}),
      ...fields,
    },
  });
  throw error;
}

export async function caller(ctx: Context, deps: LoginDeps): Promise<Caller> {
  const web = ctx.state.webSession as { user: string; roles: string[]; expiresAt: number } | undefined;
  let who: { user: string; roles: string[]; via: Caller['via'] };
  let validUntil: Date;
  // What locks are checked against: every role the credentials carry and the
  // access requests they were re-issued under, as at the proxy. The caller's
  // permissions come from their own roles only.
  let carried: { roles: string[]; accessRequests: string[] };
  if (web) {
    who = { user: web.user, roles: web.roles, via: 'web' };
    carried = { roles: web.roles, accessRequests: [] };
    validUntil = new Date(web.expiresAt);
  } else {
    const peer = clientCertificate(ctx, deps.userCa.trustBundle, deps.clock.now());
    if (!peer.ok) {
      const error = new ZtshError('unauthenticated', peerRefusalMessage(peer.reason, 'sign in first: run ztsh login (or use the web page)'), { hint: 'run ztsh login' });
      const named = peer.expired;
      return refuse(ctx, deps, error, named ? { user: named.identity.user, roles: named.identity.roles, via: 'certificate', certificateExpired: { notAfter: named.notAfter } } : {}, peer.reason);
    }
    who = { user: peer.identity.user, roles: peer.identity.roles, via: 'certificate' };
    validUntil = peer.notAfter;
    carried = { roles: certificateRoleNames(peer.identity), accessRequests: (peer.identity.accessRequests ?? []).map((r) => r.id) };
  }
  const lock = deps.locks.lockFor(who.user, carried.roles, carried.accessRequests);
  if (lock) return refuse(ctx, deps, new ZtshError('locked', lockMessage(lock)), who, 'locked', { lockId: lock.id });
  const roles = who.roles.flatMap((name) => deps.roles.get(name) ?? []);
  return { ...who, permissions: permissionsOf(roles), validUntil };
}

export async function requirePermission(ctx: Context, deps: LoginDeps, permission: Permission): Promise<Caller> {
  const who = await caller(ctx, deps);
  if (!who.permissions.has(permission)) {
    const error = new ZtshError('access_denied', `${who.user} lacks the "${permission}" permission`, {
      hint: `ask for a role with permissions: [${permission}] (your roles: ${who.roles.join(', ') || 'none'})`,
    });
    return refuse(ctx, deps, error, who, 'denied', { permission });
  }
  return who;
}
