// GET /v1/clusters: the clusters a user's roles reach, with their labels and
// whether their agent is online (what `ztsh kube ls` shows).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { labelsMatch } from './kube-authorize.ts';
import type { KubeDeps } from './kube-access.ts';
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
  const roles = deps.auth.roles(peer.identity.roles);
  const clusters = deps.tunnels
    .list()
    .filter((c) => roles.some((r) => labelsMatch(r.spec.allow.kubernetes_labels, c.labels)) && !roles.some((r) => labelsMatch(r.spec.deny.kubernetes_labels, c.labels)));
  send(200, { clusters });
}
