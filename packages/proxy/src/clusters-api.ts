// GET /v1/clusters: the clusters a user's roles reach, with their labels and
// whether their agent is online (what `ztsh kube ls` shows), reached by the
// login's roles or an access request the certificate carries (elevation.ts);
// and as `requestable`, the clusters not reached that a role the user may
// request would reach, with those roles. A locked user or role (own or
// requested) gets the lock's message (403), and the refusal is audited.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { certificateRoles, grantIds, reachesCluster, rolesReachingIfRequested } from './elevation.ts';
import type { KubeDeps } from './kube-access.ts';
import { whenStored } from './when-stored.ts';
import { markSessionMfa } from './session-mfa-check.ts';
import { peerIdentity } from '@ztsh/protocol';

export function listClusters(deps: KubeDeps, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const peer = peerIdentity(req.socket as TLSSocket, deps.auth.userCaCertificates(), deps.now());
  if (!peer.ok) {
    return send(401, {
      error: { code: 'unauthenticated', message: peer.reason === 'expired' ? 'your ztsh certificate has expired' : 'a ztsh certificate is required', hint: 'run ztsh login' },
    });
  }
  // A locked identity learns nothing of the clusters, and the attempt is a
  // security event: on disk before the refusal goes out.
  const lock = deps.auth.lockFor(peer.identity.user, certificateRoles(peer.identity), grantIds(peer.identity));
  if (lock) {
    const stored = deps.auth.audit('api.request', false, {
      user: peer.identity.user,
      clientIp: req.socket.remoteAddress ?? '',
      message: lock.message,
      fields: { method: req.method, path: '/v1/clusters', status: 403, reason: 'locked', lockId: lock.id, roles: peer.identity.roles },
    }, true);
    return whenStored(stored, (error) => deps.log.error({ err: error }, 'the audit event of a refused cluster list could not be stored'), () =>
      send(403, { error: { code: 'locked', message: lock.message } }),
    );
  }
  const rolesOf = (names: string[]) => deps.auth.roles(names);
  const clusters: ReturnType<typeof deps.tunnels.list> = [];
  const requestable: { name: string; labels: Record<string, string>; roles: string[] }[] = [];
  for (const c of deps.tunnels.list()) {
    if (reachesCluster(peer.identity, rolesOf, c)) {
      clusters.push(c);
      continue;
    }
    const roles = rolesReachingIfRequested(peer.identity, rolesOf, c);
    if (roles.length > 0) requestable.push({ name: c.name, labels: c.labels, roles });
  }
  send(200, { clusters: markSessionMfa(deps.auth, peer.identity, clusters), requestable });
}
