// exec, attach, cp and port-forward: kubectl upgrades its connection to a
// WebSocket (v5.channel.k8s.io, or SPDY/3.1+portforward.k8s.io carrying
// SPDY frames). The proxy checks it like any request, asks the agent to
// make the same upgrade to the apiserver, and relays frames between the two
// WebSockets, recording the session (sessions/session-relay.ts).
// kubectl ≤ 1.29 speaks only SPDY, which the proxy cannot see into: it is
// refused with a Status naming the kubectl version needed.
import { constants } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { auditAllowed, checkKubeAccess, upstreamHeaders, type KubeDeps } from './kube-access.ts';
import { refuseUpgrade } from './kube-status.ts';
import { whenStored } from './auth-client.ts';
import { relaySession } from './sessions/session-relay.ts';

export const SPDY_REFUSAL =
  'ztsh needs kubectl 1.30 or newer for exec, attach, cp and port-forward: this client asked for SPDY, which ztsh does not pass through';

const PASSED_BACK = ['sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions'];

export function upgradeKube(deps: KubeDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => undefined);
  // Access first: a refusal must read the same on kubectl's WebSocket try and its SPDY retry.
  const access = checkKubeAccess(deps, req.socket as TLSSocket, req.method ?? 'GET', req.url ?? '/', req.headers);
  if (!access.ok) {
    whenStored(access.stored, (err) => deps.log.error({ err }, 'the audit event of a refusal was not stored yet'), () => refuseUpgrade(socket, access.code, access.message));
    return;
  }
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    auditAllowed(deps, access, 400, { error: 'SPDY upgrade refused' });
    return refuseUpgrade(socket, 400, SPDY_REFUSAL);
  }

  let stream;
  try {
    stream = access.tunnel.session.request({
      ...upstreamHeaders(req.headers, access),
      'x-ztsh-upgrade': 'websocket',
      [constants.HTTP2_HEADER_METHOD]: req.method ?? 'GET',
      [constants.HTTP2_HEADER_PATH]: access.upstreamPath,
    }, { endStream: false }); // the upgraded byte stream flows on this stream in both directions
  } catch {
    auditAllowed(deps, access, 503, { error: 'tunnel unavailable' });
    return refuseUpgrade(socket, 503, `cluster "${access.tunnel.cluster}" is offline: its agent is not connected`);
  }
  const onEarlyError = () => socket.destroy();
  const onEarlyClose = () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  };
  stream.on('error', onEarlyError);
  socket.on('close', onEarlyClose);
  stream.on('response', (headers) => {
    if (headers['x-ztsh-upstream-status'] !== '101') {
      // The apiserver refused the upgrade: hand its answer (a Status) to kubectl as it is.
      const status = Number(headers[constants.HTTP2_HEADER_STATUS] ?? 502);
      auditAllowed(deps, access, status);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        socket.end(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 ${status} Upstream\r\nContent-Type: ${headers['content-type'] ?? 'application/json'}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
            body,
          ]),
        );
      });
      return;
    }
    stream.off('error', onEarlyError);
    socket.off('close', onEarlyClose);
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'];
    for (const name of PASSED_BACK) {
      const value = headers[name];
      if (typeof value === 'string') lines.push(`${name}: ${value}`);
    }
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    relaySession(deps, access, socket, stream, head, String(headers['sec-websocket-protocol'] ?? ''));
  });
}
