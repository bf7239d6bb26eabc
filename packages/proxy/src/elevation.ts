// Elevated certificates: a certificate re-issued under approved access
// requests (ztsh login --request-id) carries, beside the login's own roles,
// each request's id and the roles it granted (identity.accessRequests).
//
// A kube request passes when the login's own roles allow it, or the own
// roles together with the roles of ONE request do. A request for single
// resources (`--resource /prod/pod/default/web-1`) lends its roles only to
// reading those pods and opening sessions in them: get, and a list or watch
// narrowed to one of them by `fieldSelector=metadata.name=` (as `kubectl get
// pod web-1 -w` sends and the apiserver's RBAC reads it); get on its log;
// exec, attach and port-forward. Never create, update, patch or delete: what
// was approved is the running pod, and its name alone would let the
// requester delete it and create another of that name (a server-side apply
// PATCH creates) with any spec, privileged or on any node. Plus the
// read-only discovery paths kubectl needs first on that cluster; nothing
// else: no other list, no other pod, no other cluster. The deny rules
// of every role the certificate carries, own and granted, win over any
// allow. Locks see every role it carries.
//
// The audit log names the requests whose roles let a request through (none
// when the own roles did), so `ztsh audit search --request ID` finds what
// was done under a request and nothing that was not; a refusal names every
// request the certificate carries: it was tried under them.
import { certificateRoleNames, rolesReaching, type ClusterInfo, type EvaluatedRole, type Identity, type ImpersonationRequest, type KubeDecision, type Role } from '@ztsh/protocol';
import type { KubeRequestInfo } from './kube-request-info.ts';

export type Grant = NonNullable<Identity['accessRequests']>[number];
export type GrantIdentity = Pick<Identity, 'user' | 'roles' | 'kubernetesUsers' | 'kubernetesGroups' | 'traits' | 'accessRequests'>;
/** The roles as defined now, by name (unknown names give nothing). */
export type RolesOf = (names: string[]) => Role[];
/** The roles' verdict on one request (kube-authorize.ts's authorizeKube in the proxy). */
export type Evaluate = (identity: GrantIdentity, roles: readonly EvaluatedRole[], cluster: ClusterInfo, info: KubeRequestInfo, asked: ImpersonationRequest) => KubeDecision;

/** What a request for one pod covers: by subresource ('' the pod itself), the verbs lent; reads and sessions only. */
const POD_VERBS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['', new Set(['get', 'list', 'watch'])],
  ['log', new Set(['get'])],
  ['exec', new Set(['exec'])],
  ['attach', new Set(['attach'])],
  ['portforward', new Set(['portforward'])],
]);

/** Every role name the certificate carries: the login's own, then each request's (the protocol's one answer, which session MFA uses too). */
export const certificateRoles = certificateRoleNames;

/** The ids of the access requests a certificate carries. */
export function grantIds(identity: Pick<Identity, 'accessRequests'>): string[] {
  return [...new Set((identity.accessRequests ?? []).map((g) => g.id))];
}

/** A request of single resources lends its roles to those resources only; one without lends them whole. */
function isLimited(grant: Grant): boolean {
  return grant.resources !== undefined && grant.resources.length > 0;
}

/**
 * Whether a limited grant's roles may decide this request: a read of or a
 * session in one of its pods (by cluster, namespace and name, on the
 * canonical request; the verbs of POD_VERBS), or a path
 * that is not a resource (discovery, /version, self reviews) on a cluster
 * one of its pods is on. `isResourceRequest` is false for self reviews
 * (kube-authorize.ts answers them from the roles without forwarding).
 */
export function grantCovers(grant: Grant, cluster: string, info: Pick<KubeRequestInfo, 'isResourceRequest' | 'verb' | 'apiGroup' | 'resource' | 'subresource' | 'namespace' | 'name'>): boolean {
  if (!isLimited(grant)) return true;
  const resources = grant.resources!.filter((r) => r.cluster === cluster);
  if (!info.isResourceRequest) return resources.length > 0;
  if (info.apiGroup !== '' || info.resource !== 'pods' || info.namespace === '' || info.name === '') return false;
  if (!POD_VERBS.get(info.subresource)?.has(info.verb)) return false;
  return resources.some((r) => r.kind === 'pods' && r.namespace === info.namespace && r.name === info.name);
}

/** The role's deny rules alone: it refuses what it denies and allows nothing. */
function denyOnly(role: EvaluatedRole): EvaluatedRole {
  return { metadata: role.metadata, spec: { allow: {}, deny: role.spec.deny } };
}

/** `allowFrom`'s allow rules, and the deny rules of every role in `all` too. */
function withDenies(allowFrom: readonly EvaluatedRole[], all: readonly EvaluatedRole[]): EvaluatedRole[] {
  const names = new Set(allowFrom.map((r) => r.metadata.name));
  return [...allowFrom, ...all.filter((r) => !names.has(r.metadata.name)).map(denyOnly)];
}

/** Roles that may decide, each with the request ids they come from (none: the own roles). */
interface Candidate {
  ids: string[];
  names: string[];
}

export interface GrantedDecision {
  decision: KubeDecision;
  /** The access requests whose roles let it through; on a refusal, every one the certificate carries. */
  accessRequests: string[];
  /** The roles (and every role's denies) the decision was made with: `kubectl auth can-i` is answered from them. */
  roles: EvaluatedRole[];
}

/**
 * The verdict on a kube request from the own roles, else from the own roles
 * plus one request's roles (those covering this request), the deny rules of
 * every carried role applying to each try.
 */
export function authorizeWithGrants(identity: GrantIdentity, rolesOf: RolesOf, cluster: ClusterInfo, info: KubeRequestInfo, asked: ImpersonationRequest, evaluate: Evaluate): GrantedDecision {
  const all = rolesOf(certificateRoles(identity));
  const candidates: Candidate[] = [{ ids: [], names: identity.roles }];
  for (const grant of identity.accessRequests ?? []) {
    if (grantCovers(grant, cluster.name, info)) candidates.push({ ids: [grant.id], names: [...identity.roles, ...grant.roles] });
  }
  let refused: { decision: KubeDecision; roles: EvaluatedRole[] } | undefined;
  for (const candidate of candidates) {
    const roles = withDenies(rolesOf(candidate.names), all);
    const decision = evaluate(identity, roles, cluster, info, asked);
    if (decision.allowed) return { decision, accessRequests: candidate.ids, roles };
    // The most elevated try says best why: "role prod-admin denies secrets" rather than "no role allows cluster prod".
    refused = { decision, roles };
  }
  return { ...refused!, accessRequests: grantIds(identity) };
}

/** The roles the user's own roles let them request: allowed by one, denied by none. */
export function requestableRoles(own: readonly Role[]): string[] {
  const denied = new Set(own.flatMap((r) => r.spec.deny.request?.roles ?? []));
  return [...new Set(own.flatMap((r) => r.spec.allow.request?.roles ?? []))].filter((name) => !denied.has(name));
}

/** The one command that asks for a role. Role names are [a-z0-9._-] (role-schema.ts): nothing to quote. */
export function requestCommand(roles: readonly string[]): string {
  return `ztsh request create --roles ${roles.join(',')} --reason "..."`;
}

/**
 * For a refused request: the first role the user may request that would
 * let it through (with every carried role's denies, and its own), or
 * undefined when no request would cure it.
 */
export function curingRole(identity: GrantIdentity, rolesOf: RolesOf, cluster: ClusterInfo, info: KubeRequestInfo, asked: ImpersonationRequest, evaluate: Evaluate): string | undefined {
  const carried = certificateRoles(identity);
  const all = rolesOf(carried);
  for (const name of requestableRoles(rolesOf(identity.roles))) {
    if (carried.includes(name)) continue;
    const asking = rolesOf([name]);
    if (asking.length === 0) continue;
    if (evaluate(identity, withDenies(rolesOf([...identity.roles, name]), [...all, ...asking]), cluster, info, asked).allowed) return name;
  }
  return undefined;
}

/** Whether the certificate reaches a cluster: by its own roles, a whole grant, or a limited grant with a pod there. */
export function reachesCluster(identity: GrantIdentity, rolesOf: RolesOf, cluster: ClusterInfo): boolean {
  const all = rolesOf(certificateRoles(identity));
  const tries = [identity.roles, ...(identity.accessRequests ?? []).filter((g) => !isLimited(g) || g.resources!.some((r) => r.cluster === cluster.name)).map((g) => [...identity.roles, ...g.roles])];
  return tries.some((names) => rolesReaching(identity.user, withDenies(rolesOf(names), all), cluster).ok);
}

/** The roles the user may request that would reach a cluster they do not reach now. */
export function rolesReachingIfRequested(identity: GrantIdentity, rolesOf: RolesOf, cluster: ClusterInfo): string[] {
  const carried = certificateRoles(identity);
  const all = rolesOf(carried);
  return requestableRoles(rolesOf(identity.roles)).filter((name) => {
    if (carried.includes(name)) return false;
    const asking = rolesOf([name]);
    return asking.length > 0 && rolesReaching(identity.user, withDenies(rolesOf([...identity.roles, name]), [...all, ...asking]), cluster).ok;
  });
}

/**
 * The roles `kubectl auth can-i` is answered from: the own roles and those
 * of requests granted whole, with every carried role's denies. A request of
 * single resources adds nothing here: its roles hold for its pods only, and
 * a review answered from them would claim more than the proxy lets through.
 */
export function reviewRoles(identity: Pick<Identity, 'roles' | 'accessRequests'>, rolesOf: RolesOf): EvaluatedRole[] {
  const whole = (identity.accessRequests ?? []).filter((g) => !isLimited(g)).flatMap((g) => g.roles);
  return withDenies(rolesOf([...new Set([...identity.roles, ...whole])]), rolesOf(certificateRoles(identity)));
}
