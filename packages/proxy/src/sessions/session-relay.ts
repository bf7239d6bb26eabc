// exec, attach, cp and port-forward after the upgrade: kubectl's WebSocket
// ends here and the apiserver's (through the agent) starts here. Whole
// frames are relayed each way, and on the way the v5.channel.k8s.io
// messages are read: stdin, stdout, stderr and resizes go into the session's
// asciicast recording, the error channel gives the exit code. port-forward
// frames carry SPDY inside; only their bytes are counted.
import { randomUUID } from 'node:crypto';
import { constants, type ClientHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { kubeStatus, type MaybePromise, type SessionKind, type SessionRecord } from '@ztsh/protocol';
import { auditAllowed, type KubeAccess, type KubeDeps } from '../kube-access.ts';
import { AsciicastWriter } from './asciicast.ts';
import { closeFrame, FrameParser, frameRefusal, OP_BINARY, OP_CLOSE, OP_CONTINUATION, serverFrame, type Frame } from './ws-frames.ts';

type Access = Extract<KubeAccess, { ok: true }>;

const CH_STDIN = 0;
const CH_STDOUT = 1;
const CH_STDERR = 2;
const CH_ERROR = 3;
const CH_RESIZE = 4;

export function sessionKind(subresource: string, command: string[]): SessionKind {
  if (subresource === 'portforward') return 'portforward';
  if (subresource === 'attach') return 'attach';
  return command[0] === 'tar' ? 'cp' : 'exec';
}

/** Reads the exit code from the error channel's Status: 0 on Success, N for NonZeroExitCode. */
export function exitCodeOf(statusJson: string): { code: number | null; message?: string } {
  try {
    const status = JSON.parse(statusJson) as { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };
    if (status.status === 'Success') return { code: 0 };
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    if (status.reason === 'NonZeroExitCode' && cause?.message && /^\d+$/.test(cause.message)) return { code: Number(cause.message) };
    return { code: null, ...(status.message ? { message: status.message } : {}) };
  } catch {
    return { code: null };
  }
}

/** Splits frames into channel messages: the first frame of a message names its channel. */
class ChannelReader {
  private channel = -1;
  constructor(private readonly onData: (channel: number, data: Buffer, last: boolean) => void) {}
  frame(frame: Frame): void {
    if (frame.opcode === OP_BINARY || frame.opcode === 0x1) {
      if (frame.payload.length === 0) return;
      this.channel = frame.payload[0]!;
      this.onData(this.channel, frame.payload.subarray(1), frame.fin);
    } else if (frame.opcode === OP_CONTINUATION && this.channel >= 0) {
      this.onData(this.channel, frame.payload, frame.fin);
    }
    if (frame.fin && frame.opcode <= OP_BINARY) this.channel = -1;
  }
}

/**
 * `spdy`: a port-forward whose connection was upgraded to SPDY itself (kubectl 1.30 without
 * KUBECTL_PORT_FORWARD_WEBSOCKETS): its bytes are passed through and counted, as the SPDY
 * inside a WebSocket port-forward is.
 */
export type SessionTransport = 'websocket' | 'spdy';

export function relaySession(deps: KubeDeps, access: Access, socket: Duplex, stream: ClientHttp2Stream, head: Buffer, protocol: string, transport: SessionTransport = 'websocket'): void {
  const id = randomUUID();
  // The canonical query: the one the decision was made on and that was forwarded.
  const query = access.target.query;
  const command = query.getAll('command');
  const kind = sessionKind(access.info.subresource, command);
  const tty = query.get('tty') === 'true';
  const startedAt = deps.now().getTime();
  const channels = protocol.endsWith('channel.k8s.io') && !protocol.startsWith('base64');
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
  const record = kind !== 'portforward' && channels && deps.recordSessions !== false;
  const day = new Date(startedAt).toISOString().slice(0, 10);
  const recordingPath = record ? `${day}/${id}.cast` : null;
  const session: SessionRecord = {
    id,
    kind,
    user: access.identity.user,
    roles: access.identity.roles,
    cluster: access.tunnel.cluster,
    namespace: access.info.namespace,
    pod: access.info.name,
    container: query.get('container'),
    command,
    tty,
    kubernetesUser: access.user,
    kubernetesGroups: access.groups,
    clientIp: access.clientIp || null,
    startedAt,
    endedAt: null,
    exitCode: null,
    endReason: null,
    bytesIn: 0,
    bytesOut: 0,
    recordingPath,
    recordingSize: null,
  };
  let writer: AsciicastWriter | undefined;
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
      writer = new AsciicastWriter(join(deps.auth.recordingsDir, recordingPath), {
        version: 2,
        width: 80,
        height: 24,
        timestamp: Math.floor(startedAt / 1000),
        title: `${session.user}@${session.cluster}: ${kind} ${session.namespace}/${session.pod}${command.length ? ' -- ' + command.join(' ') : ''}`,
        ...(command.length ? { command: command.join(' ') } : {}),
        env: { TERM: 'xterm-256color' },
        ztsh: { sessionId: id, kind, user: session.user, roles: session.roles, cluster: session.cluster, namespace: session.namespace, pod: session.pod, container: session.container, command, tty },
      }, () => deps.now().getTime());
    }
  } catch (error) {
    return refuse(error);
  }
  const startType = kind === 'portforward' ? 'port_forward.start' : 'session.start';
  const startEvent = deps.auth.audit(startType, true, {
    user: session.user,
    clientIp: access.clientIp,
    message: `${kind} ${session.namespace}/${session.pod}${command.length ? ': ' + command.join(' ') : ''}`,
    fields: { sessionId: id, kind, cluster: session.cluster, namespace: session.namespace, pod: session.pod, container: session.container, command, tty, roles: session.roles, kubernetesUser: access.user, kubernetesGroups: access.groups },
  }, true);
  // With auth in another process, the session runs only once auth has its start.
  if (started instanceof Promise || startEvent instanceof Promise) {
    Promise.all([started, startEvent]).then(
      () => (transport === 'spdy' ? relayBytes(deps, access, socket, stream, head, session) : relayFrames(deps, access, socket, stream, head, { session, writer, channels })),
      (error: unknown) => {
        try {
          writer?.close();
        } catch {
          // refused either way
        }
        refuse(error);
      },
    );
    return;
  }
  if (transport === 'spdy') relayBytes(deps, access, socket, stream, head, session);
  else relayFrames(deps, access, socket, stream, head, { session, writer, channels });
}

/** A SPDY port-forward: bytes both ways, counted, with the same end as any session. */
function relayBytes(deps: KubeDeps, access: Access, socket: Duplex, stream: ClientHttp2Stream, head: Buffer, session: SessionRecord): void {
  auditAllowed(deps, access, 101, { sessionId: session.id });
  let endReason: string | null = null;
  const pass = (from: Duplex, to: Duplex, count: (n: number) => void) => (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  };
  socket.on('data', pass(socket, stream, (n) => (session.bytesIn += n)));
  stream.on('data', pass(stream, socket, (n) => (session.bytesOut += n)));
  if (head.length > 0) socket.emit('data', head);
  const untrack = deps.streams.add({
    user: session.user,
    roles: session.roles,
    notAfter: access.notAfter,
    end: (_message, reason) => {
      // SPDY has no place for a reason kubectl would print: the connection ends.
      endReason = reason;
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      socket.destroy();
    },
  });
  endSessionWith(deps, access, socket, stream, session, untrack, () => ({ endReason, writer: undefined, errorText: '' }));
}

function relayFrames(
  deps: KubeDeps,
  access: Access,
  socket: Duplex,
  stream: ClientHttp2Stream,
  head: Buffer,
  { session, writer, channels }: { session: SessionRecord; writer: AsciicastWriter | undefined; channels: boolean },
): void {
  const { id } = session;
  auditAllowed(deps, access, 101, { sessionId: id });

  let errorText = '';
  const fromClient = new ChannelReader((channel, data) => {
    if (channel === CH_STDIN) {
      session.bytesIn += data.length;
      writer?.input(data);
    } else if (channel === CH_RESIZE) {
      try {
        const size = JSON.parse(data.toString()) as { Width?: number; Height?: number };
        if (size.Width && size.Height) writer?.resize(size.Width, size.Height);
      } catch {
        // a malformed resize is the apiserver's to refuse
      }
    }
  });
  const fromServer = new ChannelReader((channel, data) => {
    if (channel === CH_STDOUT || channel === CH_STDERR) {
      session.bytesOut += data.length;
      writer?.output(data);
    } else if (channel === CH_ERROR) {
      errorText += data.toString();
    }
  });
  // kubectl sends stdin in frames of tens of KiB: a client frame past 4 MiB is
  // no kubectl's, and would only hold the proxy's memory while it arrives.
  const up = new FrameParser(4 * 1024 * 1024);
  const down = new FrameParser();
  let endReason: string | null = null;

  const relay = (from: Duplex, to: Duplex, parser: FrameParser, onFrame: (f: Frame) => void) => (chunk: Buffer) => {
    let parsed;
    try {
      parsed = parser.push(chunk);
    } catch {
      socket.destroy();
      stream.destroy();
      return;
    }
    // Checked before any of these bytes go on: a frame the two ends could read differently ends the session.
    const bad = parsed.frames.map(frameRefusal).find((why) => why !== undefined);
    if (bad) {
      deps.log.warn({ sessionId: id, from: from === socket ? 'client' : 'cluster', reason: bad }, 'session ended: a WebSocket frame broke the protocol');
      endReason = 'protocol error';
      from.removeAllListeners('data');
      socket.end(closeFrame(1002, `ztsh: ${bad}`));
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    if (parsed.complete.length > 0 && !to.write(parsed.complete)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
    for (const frame of parsed.frames) {
      if (!channels) {
        if (frame.opcode !== OP_CLOSE) {
          if (from === socket) session.bytesIn += frame.payload.length;
          else session.bytesOut += frame.payload.length;
        }
      } else onFrame(frame);
    }
  };
  socket.on('data', relay(socket, stream, up, (f) => fromClient.frame(f)));
  stream.on('data', relay(stream, socket, down, (f) => fromServer.frame(f)));
  if (head.length > 0) socket.emit('data', head);

  const untrack = deps.streams.add({
    user: session.user,
    roles: session.roles,
    notAfter: access.notAfter,
    end: (message, reason) => {
      endReason = reason;
      // Only whole frames were passed to kubectl, so these land between frames.
      if (channels) socket.write(serverFrame(OP_BINARY, Buffer.concat([Buffer.from([CH_ERROR]), Buffer.from(JSON.stringify(kubeStatus(reason === 'expired' ? 401 : 403, message)))])));
      socket.end(closeFrame(reason === 'proxy shutdown' ? 1001 : 1008, message));
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  });

  endSessionWith(deps, access, socket, stream, session, untrack, () => ({ endReason, writer, errorText }));
}

/**
 * How every relayed session ends, whichever side goes first: the recording
 * closed, the session record and its end event stored (`state` says how it
 * ended, read at the end).
 */
function endSessionWith(
  deps: KubeDeps,
  access: Access,
  socket: Duplex,
  stream: ClientHttp2Stream,
  session: SessionRecord,
  untrack: () => void,
  state: () => { endReason: string | null; writer: AsciicastWriter | undefined; errorText: string },
): void {
  const { id, kind, command, startedAt } = session;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    untrack();
    const { endReason, writer, errorText } = state();
    const endedAt = deps.now().getTime();
    const exit = errorText ? exitCodeOf(errorText) : { code: null };
    let recordingSize: number | null = null;
    try {
      recordingSize = writer ? writer.close() : null;
    } catch (error) {
      deps.log.error({ err: error, sessionId: id }, 'closing the recording failed');
    }
    const patch = { endedAt, exitCode: exit.code, endReason, bytesIn: session.bytesIn, bytesOut: session.bytesOut, recordingSize };
    const record = async () => {
      await deps.auth.sessions.update(id, patch);
      if (writer) await deps.auth.sessions.index(id, command.join(' '), `${writer.text.input}\n${writer.text.output}`);
      await deps.auth.audit(kind === 'portforward' ? 'port_forward.end' : 'session.end', true, {
        user: session.user,
        clientIp: access.clientIp,
        message: `${kind} ${session.namespace}/${session.pod} ended${exit.code !== null ? ` with exit code ${exit.code}` : ''}${endReason ? ` (${endReason})` : ''}`,
        fields: { sessionId: id, kind, cluster: session.cluster, namespace: session.namespace, pod: session.pod, exitCode: exit.code, bytesIn: session.bytesIn, bytesOut: session.bytesOut, durationMs: endedAt - startedAt, endReason, recordingSize },
      }, true);
    };
    record().catch((error: unknown) => deps.log.error({ err: error, sessionId: id }, 'recording the end of the session failed'));
  };
  const endBoth = () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    socket.destroy();
    finish();
  };
  socket.on('close', endBoth);
  stream.on('close', () => {
    // Let what was already written to kubectl go out before closing its socket.
    socket.end();
    finish();
  });
  stream.on('error', endBoth);
  socket.on('error', endBoth);
  // Either side may have gone while auth was being told of the start.
  if (socket.destroyed || stream.destroyed) endBoth();
}
