// exec, attach, cp and port-forward: kubectl upgrades its connection to a
// WebSocket (v5.channel.k8s.io, or SPDY/3.1+portforward.k8s.io carrying
// SPDY frames). The proxy checks it like any request, asks the agent to
// make the same upgrade to the apiserver, and relays frames between the two
// WebSockets, recording the session (sessions/session-relay.ts).
// exec, attach and cp over SPDY (kubectl 1.29 and older) would pass unseen:
// they are refused with a Status naming the kubectl version needed. A
// port-forward over SPDY (kubectl 1.30's default) is passed through, its
// bytes counted: a port-forward's content is not recorded either way.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type MaybePromise, TUNNEL_HEADERS } from '@ztsh/protocol';
import { auditAllowed, checkKubeAccess, clusterOffline, upstreamHeaders, type KubeAccess, type KubeDeps } from './kube-access.ts';
import { refuseUpgrade } from './kube-status.ts';
import { whenStored } from './when-stored.ts';
import { relaySession, type SessionTransport } from './sessions/session-relay.ts';

export const SPDY_REFUSAL =
  'ztsh needs kubectl 1.30 or newer for exec, attach, cp and port-forward: this client asked for SPDY, which ztsh does not pass through';
/** The one stream protocol of port-forward over SPDY (X-Stream-Protocol-Version). */
const SPDY_PORTFORWARD = 'portforward.k8s.io';

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
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (upgrade === 'spdy/3.1' && subresource === 'portforward') return upgradeSpdyPortForward(deps, access, req, socket, head);
  if (upgrade !== 'websocket') {
    return refuseWhenStored(deps, socket, auditAllowed(deps, access, 400, { error: 'SPDY upgrade refused' }), 400, SPDY_REFUSAL);
  }
  const acceptable = STREAM_PROTOCOLS[subresource] ?? [];
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => acceptable.includes(p));
  if (offered.length === 0) {
    const stored = auditAllowed(deps, access, 400, { error: 'no subprotocol ztsh can record' });
    return refuseWhenStored(deps, socket, stored, 400, `${subresource} through ztsh needs one of the WebSocket subprotocols ${acceptable.join(', ')}`);
  }

  const forwarded = upgradeHeaders(req, access);
  // No extension is offered (compression would hide the frames from the recorder).
  delete forwarded['sec-websocket-extensions'];
  upgradeThroughTunnel(deps, access, req, socket, head, {
    // Only what the recorder can read is offered: the cluster cannot pick anything else.
    headers: { ...forwarded, 'sec-websocket-protocol': offered.join(', '), [TUNNEL_HEADERS.upgrade]: 'websocket' },
    defaultMethod: 'GET',
    accept: (answer) => {
      const negotiated = String(answer['sec-websocket-protocol'] ?? '');
      // A cluster (or agent) that answers with what was not offered would have the
      // session relayed as something the recorder cannot read: refuse.
      if (!offered.includes(negotiated) || answer['sec-websocket-extensions'] !== undefined) {
        return {
          refused: `the cluster chose the subprotocol "${negotiated.slice(0, 64)}", which was not offered`,
          message: 'the cluster answered the upgrade with a subprotocol ztsh did not offer',
        };
      }
      const lines = ['Upgrade: websocket', 'Connection: Upgrade'];
      for (const name of PASSED_BACK) {
        const value = answer[name];
        if (typeof value === 'string') lines.push(`${name}: ${value}`);
      }
      return { lines, protocol: negotiated, transport: 'websocket' };
    },
  });
}

/**
 * port-forward as kubectl 1.30 sends it without KUBECTL_PORT_FORWARD_WEBSOCKETS:
 * the connection itself upgraded to SPDY/3.1. It is authorized, audited and
 * ended by a lock like any session; its bytes are passed through and
 * counted (a port-forward's content is never recorded, over WebSocket either).
 */
function upgradeSpdyPortForward(deps: KubeDeps, access: Access, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const offered = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((p) => p.trim());
  if (!offered.includes(SPDY_PORTFORWARD)) {
    const stored = auditAllowed(deps, access, 400, { error: 'no port-forward stream protocol offered' });
    return refuseWhenStored(deps, socket, stored, 400, `port-forward over SPDY needs X-Stream-Protocol-Version: ${SPDY_PORTFORWARD}`);
  }
  const forwarded = upgradeHeaders(req, access);
  for (const name of Object.keys(forwarded)) if (name.startsWith('sec-websocket-')) delete forwarded[name];
  upgradeThroughTunnel(deps, access, req, socket, head, {
    headers: { ...forwarded, 'x-stream-protocol-version': SPDY_PORTFORWARD, [TUNNEL_HEADERS.upgrade]: 'SPDY/3.1' },
    defaultMethod: 'POST',
    accept: (answer) =>
      answer['x-stream-protocol-version'] !== SPDY_PORTFORWARD
        ? { refused: 'the cluster chose another stream protocol', message: 'the cluster answered the port-forward with a stream protocol ztsh did not offer' }
        : { lines: ['Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${SPDY_PORTFORWARD}`], protocol: `SPDY/3.1+${SPDY_PORTFORWARD}`, transport: 'spdy' },
  });
}

type Access = Extract<KubeAccess, { ok: true }>;

interface TunnelUpgrade {
  /** The upstream request's headers (the pseudo-headers are added). */
  headers: Record<string, string | string[]>;
  defaultMethod: string;
  /** Whether the cluster's 101 can be relayed: the lines of kubectl's 101 and what the session is, or why not. */
  accept(answer: IncomingHttpHeaders): { lines: string[]; protocol: string; transport: SessionTransport } | { refused: string; message: string };
}

/**
 * Asks the agent for the same upgrade on a tunnel stream, then either hands
 * kubectl the cluster's refusal, refuses an answer that was not asked for,
 * or switches protocols and relays the session.
 */
function upgradeThroughTunnel(deps: KubeDeps, access: Access, req: IncomingMessage, socket: Duplex, head: Buffer, upgrade: TunnelUpgrade): void {
  let stream: ClientHttp2Stream;
  try {
    stream = access.tunnel.session.request({
      ...upgrade.headers,
      [constants.HTTP2_HEADER_METHOD]: req.method ?? upgrade.defaultMethod,
      [constants.HTTP2_HEADER_PATH]: access.upstreamPath,
    }, { endStream: false }); // the upgraded byte stream flows on this stream in both directions
  } catch {
    return refuseWhenStored(deps, socket, auditAllowed(deps, access, 503, { error: 'tunnel unavailable' }), 503, clusterOffline(access.tunnel.cluster));
  }
  const onEarlyError = () => socket.destroy();
  const onEarlyClose = () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  };
  stream.on('error', onEarlyError);
  socket.on('close', onEarlyClose);
  stream.on('response', (answer) => {
    if (answer[TUNNEL_HEADERS.upstreamStatus] !== '101') return passRefusal(deps, access, socket, stream, answer);
    const accepted = upgrade.accept(answer);
    if ('refused' in accepted) {
      stream.close(constants.NGHTTP2_CANCEL);
      return refuseWhenStored(deps, socket, auditAllowed(deps, access, 502, { error: accepted.refused }), 502, accepted.message);
    }
    stream.off('error', onEarlyError);
    socket.off('close', onEarlyClose);
    socket.write(['HTTP/1.1 101 Switching Protocols', ...accepted.lines].join('\r\n') + '\r\n\r\n');
    relaySession(deps, access, socket, stream, head, accepted.protocol, accepted.transport);
  });
}

/**
 * What goes upstream with an upgrade. It carries no body (a request with one
 * was refused), so no length: on the tunnel, the upgraded bytes flow as the
 * stream's DATA, which a Content-Length of 0 (kubectl sends one with its
 * SPDY POST) would make a protocol error.
 */
function upgradeHeaders(req: IncomingMessage, access: Access): Record<string, string | string[]> {
  const headers = upstreamHeaders(req.headers, access);
  delete headers['content-length'];
  return headers;
}

/** The apiserver refused the upgrade: its answer (a Status) goes to kubectl as it is. */
function passRefusal(deps: KubeDeps, access: Access, socket: Duplex, stream: ClientHttp2Stream, headers: IncomingHttpHeaders): void {
  const status = Number(headers[constants.HTTP2_HEADER_STATUS] ?? 502);
  const stored = auditAllowed(deps, access, status);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(chunks);
    whenStored(stored, logUnstored(deps), () =>
      socket.end(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 ${status} Upstream\r\nContent-Type: ${headers['content-type'] ?? 'application/json'}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
          body,
        ]),
      ),
    );
  });
}

const logUnstored = (deps: KubeDeps) => (err: unknown) => deps.log.error({ err }, 'the audit event of an answer was not stored');

/** A refusal of an upgrade that was let through, sent once its audit event is stored. */
function refuseWhenStored(deps: KubeDeps, socket: Duplex, stored: MaybePromise<void>, code: number, message: string): void {
  whenStored(stored, logUnstored(deps), () => refuseUpgrade(socket, code, message));
}
