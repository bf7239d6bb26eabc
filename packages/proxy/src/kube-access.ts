// The checks every kube request passes before anything reaches a cluster:
// a valid user certificate, a known cluster, the roles' verdict, an agent
// online. Shared by plain requests and upgrades (exec, attach, port-forward).
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { isDroppedRequestHeader, type Identity } from '@ztsh/protocol';
import type { AgentTunnel, AgentTunnels } from './agent-tunnels.ts';
import type { AuthClient, MaybePromise } from './auth-client.ts';
import { authorizeKube } from './kube-authorize.ts';
import type { LiveStreams } from './live-streams.ts';
import { parseKubeRequest, type KubeRequestInfo } from './kube-request-info.ts';
import { peerIdentity, peerRefusalMessage } from '@ztsh/protocol';

export interface KubeDeps {
  auth: AuthClient;
  tunnels: AgentTunnels;
  now: () => Date;
  log: Logger;
  streams: LiveStreams;
  /** Session content is recorded unless this is false (the benchmark measures what recording costs). */
  recordSessions?: boolean;
}

export type KubeAccess =
  | {
      ok: true;
      identity: Identity;
      info: KubeRequestInfo;
      tunnel: AgentTunnel;
      user: string;
      groups: string[];
      upstreamPath: string;
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


/** Splits /k8s/<cluster>/<rest> into the cluster and the path the apiserver sees. */
export function splitKubePath(url: string): { cluster: string; path: string; query: URLSearchParams; upstreamPath: string } | undefined {
  const m = /^\/k8s\/([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\/[^?]*)?(\?.*)?$/.exec(url);
  if (!m) return undefined;
  const path = m[3] || '/';
  const search = m[4] ?? '';
  return { cluster: m[1]!, path, query: new URLSearchParams(search), upstreamPath: path + search };
}

function headerList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

export function checkKubeAccess(deps: KubeDeps, socket: TLSSocket, method: string, url: string, headers: IncomingHttpHeaders): KubeAccess {
  const started = performance.now();
  const clientIp = socket.remoteAddress ?? '';
  const target = splitKubePath(url);
  let identity: Identity | undefined;
  let info: KubeRequestInfo | undefined;
  // Every refusal is a security event: on disk before kubectl hears of it.
  const deny = (code: number, message: string, reason: string): KubeAccess => {
    const stored = deps.auth.audit('kube.request', false, {
      user: identity?.user,
      clientIp,
      message,
      fields: {
        cluster: target?.cluster,
        ...(info ? kubeFields(info) : { path: url.split('?')[0] }),
        method,
        roles: identity?.roles,
        status: code,
        reason,
      },
    }, true);
    return { ok: false, code, message, stored };
  };
  const peer = peerIdentity(socket, deps.auth.userCaCertificates(), deps.now());
  if (!peer.ok) return deny(401, peerRefusalMessage(peer.reason, 'a ztsh certificate is required: run ztsh login, then ztsh kube login'), peer.reason);
  identity = peer.identity;
  const unavailable = deps.auth.unavailable();
  if (unavailable) return deny(503, unavailable, 'auth_unreachable');
  if (!target) return deny(404, 'not a cluster path: use /k8s/<cluster>/...', 'not_found');
  info = parseKubeRequest(method, target.path, target.query);
  const lock = deps.auth.lockFor(identity.user, identity.roles);
  if (lock) return deny(403, lock.message, 'locked');
  const labels = deps.tunnels.labels(target.cluster);
  if (!labels) return deny(404, `cluster "${target.cluster}" not found: ztsh kube ls lists the clusters you can reach`, 'unknown_cluster');
  const roles = deps.auth.roles(identity.roles);
  const asked = { user: headers['impersonate-user'] as string | undefined, groups: headerList(headers['impersonate-group']) };
  const decision = authorizeKube(identity, roles, { name: target.cluster, labels }, info, asked);
  if (!decision.allowed) return deny(403, `access denied: ${decision.reason}`, 'denied');
  const tunnel = deps.tunnels.get(target.cluster);
  if (!tunnel) return deny(503, `cluster "${target.cluster}" is offline: its agent is not connected`, 'offline');
  return { ok: true, identity, info, tunnel, user: decision.kubernetesUser, groups: decision.kubernetesGroups, upstreamPath: target.upstreamPath, clientIp, started };
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

/** The audit event of a request that was let through, once its answer is known. */
export function auditAllowed(deps: KubeDeps, access: Extract<KubeAccess, { ok: true }>, status: number, extra: Record<string, unknown> = {}): void {
  deps.auth.audit('kube.request', status < 400, {
    user: access.identity.user,
    clientIp: access.clientIp,
    fields: {
      cluster: access.tunnel.cluster,
      ...kubeFields(access.info),
      roles: access.identity.roles,
      kubernetesUser: access.user,
      kubernetesGroups: access.groups,
      status,
      latencyMs: Math.round((performance.now() - access.started) * 100) / 100,
      ...extra,
    },
  }, false);
}

export function upstreamHeaders(headers: IncomingHttpHeaders, access: Extract<KubeAccess, { ok: true }>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isDroppedRequestHeader(name)) continue;
    out[name] = value;
  }
  out['x-ztsh-impersonate-user'] = access.user;
  out['x-ztsh-impersonate-groups'] = JSON.stringify(access.groups);
  return out;
}
