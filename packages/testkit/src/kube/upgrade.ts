// HTTP/1.1 upgrade requests: exec and attach over WebSocket (v5/v4.channel.k8s.io) and
// port-forward over WebSocket (SPDY/3.1+portforward.k8s.io, raw SPDY frames inside).
// SPDY itself (`Upgrade: SPDY/3.1`, what kubectl ≤ 1.29 sends and what newer kubectl falls back
// to after a failed WebSocket upgrade) is refused with a 400 Status — but only after the token,
// RBAC and the pod were checked, so kubectl's final error is the meaningful one (401/403/404).
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { admit, recordRequest, targetOf } from './admission.ts';
import type { DoubleState, SeenRequest } from './context.ts';
import type { KubeObject } from './store.ts';
import { CHANNEL_PROTOCOLS, PROCESS_START_MS, serveChannels } from './exec.ts';
import { runCommand } from './commands.ts';
import type { Command } from './process-io.ts';
import { declaredPorts } from './pods.ts';
import { PORTFORWARD_PROTOCOL, servePortForward, socketTransport, webSocketTransport, type PortOpener } from './portforward.ts';

/** The stream protocol of port-forward over SPDY (X-Stream-Protocol-Version). */
const SPDY_PORTFORWARD_VERSION = 'portforward.k8s.io';
import { findResource } from './resources.ts';
import { spdyRefusal } from './routes.ts';
import { StatusError, badRequest, internalError, notFound, statusResponseBytes } from './status.ts';

/** Marks requests whose Sec-WebSocket-Protocol we took out so `ws` would not reject it. */
export const portForwardRequests = new WeakSet<IncomingMessage>();

export function handleUpgrade(state: DoubleState, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy()); // a client that vanishes mid-handshake
  const { url, refusal } = targetOf(req.url);
  const seen = recordRequest(state, req, url);
  try {
    if (refusal) throw new StatusError(badRequest(refusal));
    const { info } = admit(state, seen, req.rawHeaders);
    const pods = findResource('', 'v1', 'pods');
    if (info.kind !== 'resource' || info.resource !== 'pods' || !pods || !info.subresource) {
      throw new StatusError(badRequest('this double upgrades only pods/exec, pods/attach and pods/portforward'));
    }
    const ns = info.namespace ?? '';
    const name = info.name ?? '';
    const pod = state.store.get(pods, ns, name);
    if (!pod) throw new StatusError(notFound(pods, name));
    if (!['exec', 'attach', 'portforward'].includes(info.subresource)) throw new StatusError(badRequest(`cannot upgrade pods/${info.subresource}`));
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'spdy/3.1' && info.subresource === 'portforward') return serveSpdyPortForward(req, socket, head, seen, podPorts(state, ns, name, pod));
    if (upgrade !== 'websocket') throw spdyRefusal(info.subresource);

    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (info.subresource === 'portforward') {
      if (!offered.includes(PORTFORWARD_PROTOCOL)) {
        throw new StatusError(badRequest(`port-forward needs the WebSocket subprotocol ${PORTFORWARD_PROTOCOL}`));
      }
      // `ws` rejects this protocol name ('/' and '+' are not token characters): take it out
      // here and put it back in the 'headers' event (see server.ts).
      delete req.headers['sec-websocket-protocol'];
      portForwardRequests.add(req);
      return accept(wss, req, socket, head, seen, (ws) => servePortForward(webSocketTransport(ws), podPorts(state, ns, name, pod)));
    }

    if (!offered.some((p) => CHANNEL_PROTOCOLS.includes(p))) {
      throw new StatusError(badRequest(`none of the offered subprotocols is supported: want one of ${CHANNEL_PROTOCOLS.join(', ')}`));
    }
    const containers = ((pod.spec as { containers?: { name: string }[] }).containers ?? []).map((c) => c.name);
    const container = url.searchParams.get('container');
    if (container && !containers.includes(container)) {
      throw new StatusError(badRequest(`container ${container} is not valid for pod ${name}`));
    }
    const args = info.subresource === 'exec' ? url.searchParams.getAll('command') : [];
    if (info.subresource === 'exec' && args.length === 0) throw new StatusError(badRequest('you must specify at least 1 command'));
    const fs = state.podFiles.get(ns, name);
    const run: Command = info.subresource === 'exec' ? runCommand : attachProcess(state, ns, name);
    accept(wss, req, socket, head, seen, (ws) => serveChannels(ws, { query: url.searchParams, fs, run, args, hostname: name, startMs: info.subresource === 'exec' ? PROCESS_START_MS : 0 }));
  } catch (err) {
    const status = err instanceof StatusError ? err.status : internalError((err as Error).message);
    seen.status = status.code;
    socket.end(statusResponseBytes(status));
  }
}

/**
 * port-forward over SPDY itself, as kubectl 1.30 (without KUBECTL_PORT_FORWARD_WEBSOCKETS)
 * and older send it: the apiserver answers 101 with the stream protocol both sides know, and
 * SPDY frames follow on the connection. (The double serves SPDY for port-forward only; exec
 * and attach over SPDY are refused, see routes.ts.)
 */
function serveSpdyPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, seen: SeenRequest, open: PortOpener): void {
  const offered = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((p) => p.trim());
  if (!offered.includes(SPDY_PORTFORWARD_VERSION)) {
    throw new StatusError(badRequest(`port-forward over SPDY needs X-Stream-Protocol-Version: ${SPDY_PORTFORWARD_VERSION}`));
  }
  seen.status = 101;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${SPDY_PORTFORWARD_VERSION}\r\n\r\n`);
  const transport = socketTransport(socket);
  servePortForward(transport, open);
  if (head.length > 0) socket.emit('data', head);
}

function accept(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  seen: SeenRequest,
  serve: (ws: WebSocket) => void,
): void {
  wss.handleUpgrade(req, socket, head, (ws) => {
    seen.status = 101;
    serve(ws);
  });
}

/**
 * attach joins the container's main process. Ours writes every log line appended while
 * attached to stdout and echoes stdin back. Like a real container it does not end when the
 * client's stdin does; the session ends when the client leaves.
 */
function attachProcess(state: DoubleState, ns: string, pod: string): Command {
  return (io) =>
    new Promise((resolve) => {
      const unsubscribe = state.logs.subscribe(ns, pod, (line) => io.stdout(line));
      io.stdin.on('data', (chunk: Buffer) => io.stdout(chunk));
      io.signal.addEventListener('abort', () => {
        unsubscribe();
        resolve(0);
      });
    });
}

/** A port the pod declares reaches its HTTP server; any other port, the echo server. */
function podPorts(state: DoubleState, namespace: string, pod: string, object: KubeObject): PortOpener {
  const declared = declaredPorts(object);
  return (port) =>
    declared.has(port) ? state.podHttp.connect({ namespace, pod, port }) : connect({ host: '127.0.0.1', port: state.echoServerPort, allowHalfOpen: true });
}
