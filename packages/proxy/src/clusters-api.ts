// GET /v1/clusters: the clusters a user's roles reach, with their labels and
// whether their agent is online (what `ztsh kube ls` shows). A locked user
// or role gets the lock's message (403), and the refusal is audited.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { labelsMatch } from './kube-authorize.ts';
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
  const lock = deps.auth.lockFor(peer.identity.user, peer.identity.roles);
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
  const roles = deps.auth.roles(peer.identity.roles);
  const clusters = deps.tunnels
    .list()
    .filter((c) => roles.some((r) => labelsMatch(r.spec.allow.kubernetes_labels, c.labels)) && !roles.some((r) => labelsMatch(r.spec.deny.kubernetes_labels, c.labels)));
  send(200, { clusters: markSessionMfa(deps.auth, peer.identity, clusters) });
}
