// The one request the agent answers itself instead of forwarding: a proxy
// replica telling it the live replica set changed (POST /.ztsh/replicas with
// x-ztsh-control: replicas; tunnel-replicas.ts). A request carrying
// x-ztsh-control never reaches the apiserver, whatever else it carries;
// only the proxy can send on the tunnel and no user can set the header, but
// everything is checked as if either could: the method, the path, no body,
// well-formed ids, and a sender that speaks only for the replica this
// tunnel reached.
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import { readReplicaAnnouncement, REPLICAS_CONTROL, TUNNEL_HEADERS, type ReplicaAnnouncement } from '@ztsh/protocol';

export function isControlRequest(headers: IncomingHttpHeaders): boolean {
  return headers[TUNNEL_HEADERS.control] !== undefined;
}

/** Reads an announcement off the stream and answers it: 204 when taken, 400 with why not. */
export function answerControl(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, replica: string | undefined, take: (announcement: ReplicaAnnouncement) => void, log: Logger): void {
  stream.on('error', () => undefined);
  // Nothing of a body is read, however much comes: flow control bounds it, and the answer ends the stream.
  stream.resume();
  const problem = check(stream, headers, replica);
  if (typeof problem === 'string') {
    log.warn({ problem, replica }, 'refused a replica-set announcement');
    return reply(stream, 400, problem);
  }
  take(problem);
  reply(stream, 204);
}

function check(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, replica: string | undefined): ReplicaAnnouncement | string {
  if (headers[TUNNEL_HEADERS.control] !== REPLICAS_CONTROL.value) return `${TUNNEL_HEADERS.control} must be "${REPLICAS_CONTROL.value}"`;
  if (headers[constants.HTTP2_HEADER_METHOD] !== 'POST' || headers[constants.HTTP2_HEADER_PATH] !== REPLICAS_CONTROL.path) return `a replica-set announcement is POST ${REPLICAS_CONTROL.path}`;
  if (!stream.endAfterHeaders) return 'a replica-set announcement carries no body';
  const announcement = readReplicaAnnouncement(headers[TUNNEL_HEADERS.replicaId], headers[TUNNEL_HEADERS.replicas]);
  if (!announcement) return `${TUNNEL_HEADERS.replicaId} and ${TUNNEL_HEADERS.replicas} must name a replica and a set of replica ids it is in`;
  if (announcement.self !== replica) return 'a replica announces only on its own tunnel';
  return announcement;
}

function reply(stream: ServerHttp2Stream, status: number, message?: string): void {
  try {
    if (stream.destroyed || stream.headersSent) return void stream.destroy();
    // Whatever body came is not read: the stream ends here.
    if (message === undefined) return void stream.respond({ ':status': status }, { endStream: true });
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(message);
  } catch {
    stream.destroy();
  }
}
