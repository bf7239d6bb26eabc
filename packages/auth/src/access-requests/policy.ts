// What a user may ask for, read from their own roles' `request` sections.
//
// - Whole roles: each must be listed in `allow.request.roles` of one of the
//   requester's roles, and in no role's `deny.request.roles`.
// - Single pods (`resources`): the roles whose `allow.request.search_as_roles`
//   is set and whose `allow.request.kubernetes_resources` (unset: any pod)
//   cover every resource asked for; none may match a `deny.request.
//   kubernetes_resources`. The access is those search_as_roles (or the ones
//   named, which must be among them), limited to the resources.
// - Duration: at most the smallest `max_duration` of the roles that allowed
//   the request (none set: 7 days), never more than 7 days; by default that
//   limit when a role sets one, else 1 hour.
// - Thresholds: the strictest of those roles: the most approvals any asks
//   for, the fewest denials (default 1 and 1).
import { MAX_REQUEST_DURATION_MS, type RequestedResource, type Role, globMatch, ZtshError } from '@ztsh/protocol';
import { parseDuration } from '../duration.ts';

export const DEFAULT_REQUEST_DURATION_MS = 3_600_000;
/** A request nobody decides within this long expires. */
export const PENDING_TTL_MS = 24 * 3_600_000;
/** Requests one user may have waiting at once: more is a flood, not a need. */
export const MAX_PENDING_PER_USER = 20;

export interface RequestAsk {
  roles: string[];
  resources: RequestedResource[];
  duration?: string | undefined;
}

export interface RequestPlan {
  roles: string[];
  resources: RequestedResource[];
  durationMs: number;
  thresholds: { approve: number; deny: number };
  suggestedReviewers: string[];
}

const uniq = <T>(values: T[]): T[] => [...new Set(values)];

function denied(message: string, hint: string): never {
  throw new ZtshError('access_denied', message, { hint });
}

function resourceMatches(rule: { kind: string; namespace: string; name: string }, r: RequestedResource): boolean {
  return (rule.kind === '*' || rule.kind === 'pods' || rule.kind === 'pod') && globMatch(rule.namespace, r.namespace) && globMatch(rule.name, r.name);
}

/** The requester's roles that allow asking for this one role whole. */
function allowingRole(own: Role[], role: string): Role[] {
  return own.filter((r) => r.spec.allow.request?.roles?.includes(role));
}

function allowsResource(role: Role, r: RequestedResource): boolean {
  const request = role.spec.allow.request;
  if (!request?.search_as_roles?.length) return false;
  return request.kubernetes_resources === undefined || request.kubernetes_resources.some((rule) => resourceMatches(rule, r));
}

export function requestableRoles(own: Role[]): string[] {
  const denyRoles = new Set(own.flatMap((r) => r.spec.deny.request?.roles ?? []));
  return uniq(own.flatMap((r) => r.spec.allow.request?.roles ?? [])).filter((name) => !denyRoles.has(name));
}

/** Checks an ask against the requester's roles; throws access_denied or bad_request, else says what the request will be. */
export function planRequest(user: string, own: Role[], defined: Map<string, Role>, ask: RequestAsk): RequestPlan {
  const ownNames = own.map((r) => r.metadata.name);
  const askedRoles = uniq(ask.roles);
  for (const name of askedRoles) {
    if (!defined.has(name)) throw new ZtshError('bad_request', `roles: unknown role "${name}"`, { hint: `you may request: ${requestableRoles(own).join(', ') || 'nothing'}` });
  }
  const resources = uniqResources(ask.resources);
  let roles: string[];
  let allowing: Role[];
  if (resources.length === 0) {
    allowing = [];
    for (const name of askedRoles) {
      if (ownNames.includes(name)) throw new ZtshError('bad_request', `roles: you already have role "${name}"`, { hint: 'request only roles you lack' });
      const by = allowingRole(own, name);
      if (by.length === 0) denied(`${user} may not request role "${name}"`, `you may request: ${requestableRoles(own).join(', ') || 'nothing (no role of yours has allow.request.roles)'}`);
      allowing.push(...by);
    }
    roles = askedRoles;
  } else {
    for (const r of resources) {
      const blocking = own.find((role) => role.spec.deny.request?.kubernetes_resources?.some((rule) => resourceMatches(rule, r)));
      if (blocking) denied(`role ${blocking.metadata.name} denies requesting /${r.cluster}/pod/${r.namespace}/${r.name}`, 'ask an administrator for a role instead');
    }
    allowing = own.filter((role) => resources.every((r) => allowsResource(role, r)));
    if (allowing.length === 0) {
      denied(`${user} may not request ${resources.length === 1 ? 'this pod' : 'these pods'}`, 'a role of yours needs allow.request.search_as_roles (and kubernetes_resources covering the pods)');
    }
    const searchAs = uniq(allowing.flatMap((role) => role.spec.allow.request?.search_as_roles ?? []));
    for (const name of askedRoles) {
      if (!searchAs.includes(name)) denied(`role "${name}" cannot be requested for single pods`, `for these pods you may use: ${searchAs.join(', ')}`);
    }
    roles = askedRoles.length > 0 ? askedRoles : searchAs;
  }
  for (const name of roles) {
    const blocking = own.find((r) => r.spec.deny.request?.roles?.includes(name));
    if (blocking) denied(`role ${blocking.metadata.name} denies requesting role "${name}"`, `you may request: ${requestableRoles(own).join(', ') || 'nothing'}`);
    if (!defined.has(name)) throw new ZtshError('bad_request', `role "${name}" is not defined`, { hint: 'ask an administrator to fix the role\'s request section' });
  }
  return {
    roles,
    resources,
    durationMs: durationFor(ask.duration, allowing),
    thresholds: thresholdsOf(allowing),
    suggestedReviewers: uniq(allowing.flatMap((r) => r.spec.allow.request?.suggested_reviewers ?? [])).filter((u) => u !== user),
  };
}

function uniqResources(resources: RequestedResource[]): RequestedResource[] {
  const seen = new Map<string, RequestedResource>();
  for (const r of resources) seen.set(`${r.cluster}/${r.namespace}/${r.name}`, r);
  return [...seen.values()];
}

function durationFor(asked: string | undefined, allowing: Role[]): number {
  const limits = allowing.flatMap((r) => (r.spec.allow.request?.max_duration ? [parseDuration(r.spec.allow.request.max_duration)] : []));
  const limit = Math.min(MAX_REQUEST_DURATION_MS, ...limits);
  if (asked === undefined) return limits.length > 0 ? limit : Math.min(DEFAULT_REQUEST_DURATION_MS, limit);
  let ms: number;
  try {
    ms = parseDuration(asked);
  } catch (cause) {
    throw new ZtshError('bad_request', `duration: ${(cause as Error).message}`, { cause });
  }
  if (ms <= 0) throw new ZtshError('bad_request', `duration: "${asked}" must be longer than 0`);
  if (ms > limit) {
    throw new ZtshError('bad_request', `duration: "${asked}" is longer than your roles allow (${formatLimit(limit)})`, { hint: `ask for ${formatLimit(limit)} or less` });
  }
  return ms;
}

function formatLimit(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.floor(ms / 1000)}s`;
}

function thresholdsOf(allowing: Role[]): { approve: number; deny: number } {
  const all = allowing.flatMap((r) => r.spec.allow.request?.thresholds ?? []);
  return {
    approve: Math.max(1, ...all.map((t) => t.approve)),
    deny: all.length > 0 ? Math.min(...all.map((t) => t.deny)) : 1,
  };
}
