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
export const SPDY_PORTFORWARD_REFUSAL =
  'ztsh needs port-forward over WebSocket: kubectl 1.31 and newer use it; with kubectl 1.30 set KUBECTL_PORT_FORWARD_WEBSOCKETS=true';

/**
 * The subprotocols the proxy lets a stream be opened with, by subresource.
 * exec and attach: the channel protocols whose frames the recorder reads
 * (one channel byte, then raw bytes); the base64 variants would pass
 * unrecorded and are not offered upstream. port-forward: SPDY frames inside
 * WebSocket, counted, not recorded.
 */
export const STREAM_PROTOCOLS: Readonly<Record<string, readonly string[]>> = {
  exec: ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'],
  attach: ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'],
  portforward: ['SPDY/3.1+portforward.k8s.io'],
};

const PASSED_BACK = ['sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions'];

export function upgradeKube(deps: KubeDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => undefined);
  // Access first: a refusal must read the same on kubectl's WebSocket try and its SPDY retry.
  const access = checkKubeAccess(deps, req.socket as TLSSocket, req.method ?? 'GET', req.url ?? '/', req.headers, 'upgrade');
  if (!access.ok) {
    whenStored(access.stored, (err) => deps.log.error({ err }, 'the audit event of a refusal was not stored yet'), () => refuseUpgrade(socket, access.code, access.message));
    return;
  }
  const subresource = access.info.subresource;
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    auditAllowed(deps, access, 400, { error: 'SPDY upgrade refused' });
    return refuseUpgrade(socket, 400, subresource === 'portforward' ? SPDY_PORTFORWARD_REFUSAL : SPDY_REFUSAL);
  }
  const acceptable = STREAM_PROTOCOLS[subresource] ?? [];
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => acceptable.includes(p));
  if (offered.length === 0) {
    auditAllowed(deps, access, 400, { error: 'no subprotocol ztsh can record' });
    return refuseUpgrade(socket, 400, `${subresource} through ztsh needs one of the WebSocket subprotocols ${acceptable.join(', ')}`);
  }

  let stream;
  const forwarded = upstreamHeaders(req.headers, access);
  // No extension is offered (compression would hide the frames from the recorder).
  delete forwarded['sec-websocket-extensions'];
  try {
    stream = access.tunnel.session.request({
      ...forwarded,
      // Only what the recorder can read is offered: the cluster cannot pick anything else.
      'sec-websocket-protocol': offered.join(', '),
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
    const negotiated = String(headers['sec-websocket-protocol'] ?? '');
    if (!offered.includes(negotiated) || headers['sec-websocket-extensions'] !== undefined) {
      // A cluster (or agent) that answers with what was not offered would have the
      // session relayed as something the recorder cannot read: refuse.
      stream.close(constants.NGHTTP2_CANCEL);
      auditAllowed(deps, access, 502, { error: `the cluster chose the subprotocol "${negotiated.slice(0, 64)}", which was not offered` });
      return refuseUpgrade(socket, 502, 'the cluster answered the upgrade with a subprotocol ztsh did not offer');
    }
    stream.off('error', onEarlyError);
    socket.off('close', onEarlyClose);
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'];
    for (const name of PASSED_BACK) {
      const value = headers[name];
      if (typeof value === 'string') lines.push(`${name}: ${value}`);
    }
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    relaySession(deps, access, socket, stream, head, negotiated);
  });
}
