// exec, attach, cp and port-forward after the upgrade: kubectl's WebSocket
// ends here and the apiserver's (through the agent) starts here. This file
// starts a session: its record (session-record.ts) stored at auth and its
// recording opened before a byte flows; frame-relay.ts then relays it. On
// the way the v5.channel.k8s.io messages are read: stdin, stdout, stderr and
// resizes go into the session's recording (recording-writer.ts), the error
// channel gives the exit code. port-forward frames carry SPDY inside; only
// their bytes are counted. The recording is gzip (`<id>.ztrec.gz`) in a file,
// or in chunks in auth's store when auth keeps recordings there
// (recording-sink.ts).
import { randomUUID } from 'node:crypto';
import { constants, type ClientHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { MaybePromise } from '@ztsh/protocol';
import type { KubeAccess, KubeDeps } from '../kube-access.ts';
import { RecordingWriter } from './recording-writer.ts';
import { relayBytes, relayFrames } from './frame-relay.ts';
import { gzipSink } from './gzip-sink.ts';
import { fileSink } from './recording-sink.ts';
import { storeSink } from './store-sink.ts';
import { newSessionRecord, sessionStartAudit } from './session-record.ts';
import { closeFrame } from './ws-frames.ts';

type Access = Extract<KubeAccess, { ok: true }>;

/**
 * `spdy`: a port-forward whose connection was upgraded to SPDY itself (kubectl 1.30 without
 * KUBECTL_PORT_FORWARD_WEBSOCKETS): its bytes are passed through and counted, as the SPDY
 * inside a WebSocket port-forward is.
 */
export type SessionTransport = 'websocket' | 'spdy';

export function relaySession(deps: KubeDeps, access: Access, socket: Duplex, stream: ClientHttp2Stream, head: Buffer, protocol: string, transport: SessionTransport = 'websocket'): void {
  const id = randomUUID();
  const startedAt = deps.now().getTime();
  const channels = protocol.endsWith('channel.k8s.io') && !protocol.startsWith('base64');
  const session = newSessionRecord(access, id, startedAt, channels && deps.recordSessions !== false);
  const { kind, command, recordingPath } = session;
  if (transport === 'spdy' && kind !== 'portforward') {
    deps.log.error({ kind }, 'refusing a SPDY session that is not a port-forward');
    socket.destroy();
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  if (kind !== 'portforward' && !channels) {
    // kube-upgrade.ts offers nothing else; should a peer still answer so, nothing runs unrecorded.
    deps.log.error({ protocol, kind }, 'refusing a session whose frames cannot be recorded');
    socket.end(closeFrame(1002, 'ztsh cannot record this session\'s subprotocol'));
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  let writer: RecordingWriter | undefined;
  const refuse = (error: unknown) => {
    // Not recorded means not allowed: refuse rather than run unwatched.
    deps.log.error({ err: error, sessionId: id }, 'cannot record the session');
    socket.end(closeFrame(1011, 'ztsh cannot record this session; try again later'));
    stream.close(constants.NGHTTP2_CANCEL);
  };
  let started: MaybePromise<void>;
  try {
    started = deps.auth.sessions.start(session);
    if (recordingPath) {
      const store = deps.auth.recordings;
      const sink = gzipSink(store ? storeSink({ sessionId: id, store, log: deps.log }) : fileSink(join(deps.auth.recordingsDir, recordingPath)));
      writer = new RecordingWriter(sink, {
        version: 2,
        width: 80,
        height: 24,
        timestamp: Math.floor(startedAt / 1000),
        title: `${session.user}@${session.cluster}: ${kind} ${session.namespace}/${session.pod}${command.length ? ' -- ' + command.join(' ') : ''}`,
        ...(command.length ? { command: command.join(' ') } : {}),
        env: { TERM: 'xterm-256color' },
        ztsh: { sessionId: id, kind, user: session.user, roles: session.roles, cluster: session.cluster, namespace: session.namespace, pod: session.pod, container: session.container, command, tty: session.tty },
      }, () => deps.now().getTime());
    }
  } catch (error) {
    return refuse(error);
  }
  const startType = kind === 'portforward' ? 'port_forward.start' : 'session.start';
  const startEvent = deps.auth.audit(startType, true, sessionStartAudit(session, access.accessRequests), true);
  // With auth in another process, the session runs only once auth has its
  // start; with the recording in the store, once the store has its header
  // (appended only then: a proxy may append only to a session auth knows).
  if (started instanceof Promise || startEvent instanceof Promise || deps.auth.recordings) {
    Promise.all([started, startEvent])
      .then(() => writer?.sink.opened())
      .then(
        () => (transport === 'spdy' ? relayBytes(deps, access, socket, stream, head, session) : relayFrames(deps, access, socket, stream, head, { session, writer, channels })),
        (error: unknown) => {
          // Refused either way; a store sink never opened keeps nothing.
          writer?.close().catch(() => undefined);
          refuse(error);
        },
      );
    return;
  }
  if (transport === 'spdy') relayBytes(deps, access, socket, stream, head, session);
  else relayFrames(deps, access, socket, stream, head, { session, writer, channels });
}

