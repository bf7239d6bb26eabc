// The checks every kube request passes before anything reaches a cluster:
// a valid user certificate, a known cluster, the roles' verdict, an agent
// online. Shared by plain requests and upgrades (exec, attach, port-forward).
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { isDroppedRequestHeader, type Identity } from '@ztsh/protocol';
import type { AgentTunnel, AgentTunnels } from './agent-tunnels.ts';
import type { AuthClient } from './auth-client.ts';
import { authorizeKube } from './kube-authorize.ts';
import { parseKubeRequest, type KubeRequestInfo } from './kube-request-info.ts';
import { peerIdentity } from './peer-identity.ts';

export interface KubeDeps {
  auth: AuthClient;
  tunnels: AgentTunnels;
  now: () => Date;
  log: Logger;
}

export type KubeAccess =
  | { ok: true; identity: Identity; info: KubeRequestInfo; tunnel: AgentTunnel; user: string; groups: string[]; upstreamPath: string }
  | { ok: false; code: number; message: string };

const CERT_PROBLEMS = {
  no_certificate: 'a ztsh certificate is required: run ztsh login, then ztsh kube login',
  untrusted: 'this certificate was not issued by this ztsh: run ztsh login',
  expired: 'your ztsh certificate has expired: run ztsh login',
  no_identity: 'this certificate carries no ztsh identity: run ztsh login',
} as const;

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
  const peer = peerIdentity(socket, deps.auth.userCaCertificates(), deps.now());
  if (!peer.ok) return { ok: false, code: 401, message: CERT_PROBLEMS[peer.reason] };
  const identity = peer.identity;
  const target = splitKubePath(url);
  if (!target) return { ok: false, code: 404, message: 'not a cluster path: use /k8s/<cluster>/...' };
  const labels = deps.tunnels.labels(target.cluster);
  if (!labels) return { ok: false, code: 404, message: `cluster "${target.cluster}" not found: ztsh kube ls lists the clusters you can reach` };
  const roles = deps.auth.roles(identity.roles);
  const info = parseKubeRequest(method, target.path, target.query);
  const asked = { user: headers['impersonate-user'] as string | undefined, groups: headerList(headers['impersonate-group']) };
  const decision = authorizeKube(identity, roles, { name: target.cluster, labels }, info, asked);
  if (!decision.allowed) {
    deps.log.info({ user: identity.user, cluster: target.cluster, verb: info.verb, resource: info.resource, reason: decision.reason }, 'kube request denied');
    return { ok: false, code: 403, message: `access denied: ${decision.reason}` };
  }
  const tunnel = deps.tunnels.get(target.cluster);
  if (!tunnel) return { ok: false, code: 503, message: `cluster "${target.cluster}" is offline: its agent is not connected` };
  return { ok: true, identity, info, tunnel, user: decision.kubernetesUser, groups: decision.kubernetesGroups, upstreamPath: target.upstreamPath };
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
