// The checks every kube request passes before anything reaches a cluster:
// a valid user certificate, a known cluster, the roles' verdict, an agent
// online. Shared by plain requests and upgrades (exec, attach, port-forward).
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { type AuthClient, BODILESS_METHODS, type ClusterInfo, type Identity, ImpersonatedGroups, copyHeaders, dropTowardsCluster, jsonHeader, type MaybePromise, mayHaveBody, peerIdentity, peerRefusalMessage, TUNNEL_HEADERS } from '@ztsh/protocol';
import type { AgentTunnel, AgentTunnels } from './agent-tunnels.ts';
import { authorizeKube } from './kube-authorize.ts';
import { authorizeWithGrants, certificateRoles, curingRole, grantIds, requestCommand } from './elevation.ts';
import type { LiveStream, LiveStreams } from './live-streams.ts';
import { CONNECT_SUBRESOURCES, parseKubeRequest, type KubeRequestInfo } from './kube-request-info.ts';
import { canonicalKubeTarget, type CanonicalTarget } from './kube-path.ts';
import { nonResourceAllowed } from './kube-nonresource.ts';
import { sessionMfaOutcome, type SessionMfaUsed } from './session-mfa-check.ts';
import type { ProxyMetrics } from './metrics.ts';

export interface KubeDeps {
  auth: AuthClient;
  tunnels: AgentTunnels;
  now: () => Date;
  log: Logger;
  streams: LiveStreams;
  /** Session content is recorded unless this is false (the benchmark measures what recording costs). */
  recordSessions?: boolean;
  metrics?: ProxyMetrics | undefined;
}

export type KubeAccess =
  | {
      ok: true;
      identity: Identity;
      /** When the client certificate expires: streams end then. */
      notAfter: Date;
      info: KubeRequestInfo;
      /** The canonical request target: what was decided on is what is forwarded. */
      target: CanonicalTarget;
      tunnel: AgentTunnel;
      user: string;
      groups: string[];
      upstreamPath: string;
      /** The access requests whose roles let it through (elevation.ts): its audit events name them. */
      accessRequests: string[];
      /** Every role the certificate carries, own and requested: what locks are checked against. */
      certificateRoles: string[];
      /** Every access request the certificate carries: a lock on one of them shuts the certificate out. */
      certificateRequests: string[];
      /** The session MFA check the cluster asked for and the certificate passed: its audit events name it. */
      sessionMfa?: SessionMfaUsed;
      /** The cluster that asked for that check: a stream let through on it is checked again by the live-stream sweep, with the roles as defined then. */
      sessionMfaCluster?: ClusterInfo;
      clientIp: string;
      /** performance.now() when the request arrived. */
      started: number;
    }
  | {
      ok: false;
      code: number;
      message: string;
      /** The refusal's audit event: answer only once it has settled (whenStored). */
      stored: MaybePromise<void>;
    };

/** What a user reads when a cluster's agent is away, whichever step finds it so. */
export function clusterOffline(cluster: string): string {
  return `cluster "${cluster}" is offline: its agent is not connected (it reconnects by itself; ztsh kube ls shows when it is back)`;
}

function headerList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** A raw path for the audit log of a request that could not be read: bounded, control characters made visible. */
function rawPathForAudit(url: string): string {
  const path = url.split('?')[0] ?? '';
  return JSON.stringify(path.slice(0, 512)).slice(1, -1);
}

/**
 * `plain` requests are forwarded as they are; an `upgrade` opens a stream
 * (exec, attach, cp, port-forward), which the proxy records. Each kind is
 * let through only for what it is: an exec must not arrive as a plain
 * request, where nothing would record it, nor a plain request as an
 * upgrade, where it would be recorded as what it is not.
 */
export type RequestKind = 'plain' | 'upgrade';

/** `endedWithHeaders`: an HTTP/2 stream that ended with its headers (undefined for HTTP/1.1). */
export function checkKubeAccess(deps: KubeDeps, socket: TLSSocket, method: string, url: string, headers: IncomingHttpHeaders, kind: RequestKind, endedWithHeaders?: boolean): KubeAccess {
  const started = performance.now();
  const clientIp = socket.remoteAddress ?? '';
  let cluster: string | undefined;
  let identity: Identity | undefined;
  let info: KubeRequestInfo | undefined;
  let peerOk = false;
  let accessRequests: string[] = [];
  // Every refusal is a security event: on disk before kubectl hears of it.
  const deny = (code: number, message: string, reason: string): KubeAccess => {
    const stored = deps.auth.audit('kube.request', false, {
      user: identity?.user,
      clientIp,
      message,
      fields: {
        cluster,
        ...(info ? kubeFields(info) : { path: rawPathForAudit(url) }),
        method,
        roles: identity?.roles,
        ...(accessRequests.length > 0 ? { accessRequests } : {}),
        status: code,
        reason,
        ...(!peerOk && identity ? { certificateExpired: true } : {}),
      },
    }, true);
    deps.metrics?.kubeRequest(cluster, info?.verb, code, (performance.now() - started) / 1000);
    return { ok: false, code, message, stored };
  };
  const peer = peerIdentity(socket, deps.auth.userCaCertificates(), deps.now());
  peerOk = peer.ok;
  // An expired certificate of ours still says whose it was: the refusal is audited as theirs.
  if (!peer.ok && peer.expired) identity = peer.expired.identity;
  // Tried under them, whatever comes of it; a request let through names only those it used.
  if (identity) accessRequests = grantIds(identity);
  if (!peer.ok) return deny(401, peerRefusalMessage(peer.reason, 'a ztsh certificate is required: run ztsh login, then ztsh kube login'), peer.reason);
  identity = peer.identity;
  accessRequests = grantIds(identity);
  const unavailable = deps.auth.unavailable();
  if (unavailable) return deny(503, unavailable, 'auth_unreachable');
  const canonical = canonicalKubeTarget(url);
  if (!canonical.ok) return deny(canonical.code, canonical.message, canonical.reason);
  const { target } = canonical;
  cluster = target.cluster;
  const parsed = parseKubeRequest(method, target.segments, target.query);
  if (!parsed.ok) return deny(parsed.message.startsWith('the method') ? 405 : 400, parsed.message, 'non_canonical_request');
  info = parsed.info;
  if ((kind === 'upgrade' || BODILESS_METHODS.has(method)) && mayHaveBody(headers, endedWithHeaders)) {
    return deny(400, `a ${kind === 'upgrade' ? 'connection upgrade' : method + ' request'} carries no body`, 'unexpected_body');
  }
  const connect = info.isResourceRequest && info.apiGroup === '' && info.resource === 'pods' && CONNECT_SUBRESOURCES.has(info.subresource);
  if (kind === 'plain' && CONNECT_SUBRESOURCES.has(info.subresource)) {
    return deny(400, `${info.subresource} needs a connection upgrade (WebSocket, as kubectl 1.30 and newer send it)`, 'not_an_upgrade');
  }
  if (kind === 'upgrade' && !connect) {
    return deny(400, 'only exec, attach and port-forward on pods open a stream through ztsh', 'not_a_session');
  }
  const lock = deps.auth.lockFor(identity.user, certificateRoles(identity), grantIds(identity));
  if (lock) return deny(403, lock.message, 'locked');
  const labels = deps.tunnels.labels(target.cluster);
  if (!labels) return deny(403, `cluster "${target.cluster}" not found: ztsh kube ls lists the clusters you can reach`, 'unknown_cluster');
  if (!info.isResourceRequest && !nonResourceAllowed(method, target.segments)) {
    return deny(403, `access denied: ${method} ${info.path} is not a path kubectl uses; ztsh passes /version, discovery, /openapi and health checks (read only) besides the API's resources`, 'denied');
  }
  const asked = { user: headers['impersonate-user'] as string | undefined, groups: headerList(headers['impersonate-group']) };
  const rolesOf = (names: string[]) => deps.auth.roles(names);
  const clusterInfo = { name: target.cluster, labels };
  const granted = authorizeWithGrants(identity, rolesOf, clusterInfo, info, asked, authorizeKube);
  const { decision } = granted;
  if (!decision.allowed) {
    // A refusal an access request would cure says how to ask for it.
    const cure = curingRole(identity, rolesOf, clusterInfo, info, asked, authorizeKube);
    return deny(403, `access denied: ${decision.reason}${cure ? `; to ask for access: ${requestCommand([cure])}` : ''}`, 'denied');
  }
  accessRequests = granted.accessRequests;
  const mfa = sessionMfaOutcome(deps.auth, identity, clusterInfo, deps.now());
  if (!mfa.ok) return deny(403, mfa.message, mfa.reason);
  const tunnel = deps.tunnels.get(target.cluster);
  if (!tunnel) return deny(503, clusterOffline(target.cluster), 'offline');
  return {
    ok: true,
    identity,
    notAfter: peer.notAfter,
    info,
    target,
    tunnel,
    user: decision.kubernetesUser,
    groups: decision.kubernetesGroups,
    upstreamPath: target.upstreamPath,
    accessRequests,
    certificateRoles: certificateRoles(identity),
    certificateRequests: grantIds(identity),
    ...(mfa.used ? { sessionMfa: mfa.used, sessionMfaCluster: clusterInfo } : {}),
    clientIp,
    started,
  };
}

/** The request as auditors search it: verb, group, resource, namespace, name. */
export function kubeFields(info: KubeRequestInfo): Record<string, unknown> {
  return {
    verb: info.verb,
    ...(info.isResourceRequest
      ? {
          apiGroup: info.apiGroup,
          resource: info.resource,
          ...(info.subresource ? { subresource: info.subresource } : {}),
          ...(info.namespace ? { namespace: info.namespace } : {}),
          ...(info.name ? { name: info.name } : {}),
        }
      : { path: info.path }),
  };
}

/**
 * The audit event of a request that was let through, once its answer is
 * known. What it returns settles once the event is stored: the answer ends
 * only then (held-end.ts), its headers and body go out before.
 */
/**
 * An allowed access as the live-stream registry tracks it: whom locks are
 * checked against, when its certificate ends, and the session MFA check to
 * ask again; `end` stops the stream in its own protocol.
 */
export function liveStreamOf(access: Extract<KubeAccess, { ok: true }>, end: LiveStream['end']): LiveStream {
  return {
    user: access.identity.user,
    roles: access.certificateRoles,
    accessRequests: access.certificateRequests,
    ...(access.sessionMfaCluster ? { sessionMfa: { identity: access.identity, cluster: access.sessionMfaCluster } } : {}),
    notAfter: access.notAfter,
    end,
  };
}

export function auditAllowed(deps: KubeDeps, access: Extract<KubeAccess, { ok: true }>, status: number, extra: Record<string, unknown> = {}): MaybePromise<void> {
  const stored = deps.auth.audit('kube.request', status < 400, {
    user: access.identity.user,
    clientIp: access.clientIp,
    fields: {
      cluster: access.tunnel.cluster,
      ...kubeFields(access.info),
      roles: access.identity.roles,
      ...(access.accessRequests.length > 0 ? { accessRequests: access.accessRequests } : {}),
      ...(access.sessionMfa ? { sessionMfa: access.sessionMfa } : {}),
      kubernetesUser: access.user,
      kubernetesGroups: access.groups,
      status,
      latencyMs: Math.round((performance.now() - access.started) * 100) / 100,
      ...extra,
    },
  }, false);
  deps.metrics?.kubeRequest(access.tunnel.cluster, access.info.verb, status, (performance.now() - access.started) / 1000);
  return stored;
}

export function upstreamHeaders(headers: IncomingHttpHeaders, access: Extract<KubeAccess, { ok: true }>): Record<string, string | string[]> {
  const out = copyHeaders(headers, dropTowardsCluster);
  out[TUNNEL_HEADERS.impersonateUser] = access.user;
  out[TUNNEL_HEADERS.impersonateGroups] = jsonHeader(ImpersonatedGroups, access.groups);
  return out;
}
