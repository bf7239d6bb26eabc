// The relay of a session once it runs: whole WebSocket frames each way
// between kubectl's socket and the HTTP/2 stream to the agent, read on the
// way (v5-channels.ts) for the recording and the exit code; or, for a
// port-forward upgraded to SPDY itself, bytes each way, counted. Either
// ends the same way (endSessionWith): the recording closed, the record and
// its end event stored, whichever side went first. A recording that cannot
// go on (its store fell behind) ends the session as a lock would.
import { constants, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { kubeStatus, type MaybePromise, type SessionRecord } from '@ztsh/protocol';
import { auditAllowed, liveStreamOf, type KubeAccess, type KubeDeps } from '../kube-access.ts';
import { whenStored } from '../when-stored.ts';
import type { RecordingWriter } from './recording-writer.ts';
import { sessionEndAudit, sessionEndPatch } from './session-record.ts';
import { CH_ERROR, CH_RESIZE, CH_STDERR, CH_STDIN, CH_STDOUT, ChannelReader, exitCodeOf } from './v5-channels.ts';
import { closeFrame, FrameParser, frameRefusal, OP_BINARY, OP_CLOSE, serverFrame, type Frame } from './ws-frames.ts';

type Access = Extract<KubeAccess, { ok: true }>;

/** The end reason of a session whose recording could not go on. */
const RECORDING_FAILED = 'recording failed';

/** A SPDY port-forward: bytes both ways, counted, with the same end as any session. */
export function relayBytes(deps: KubeDeps, access: Access, socket: Duplex, stream: ClientHttp2Stream, head: Buffer, session: SessionRecord): void {
  const requestStored = auditAllowed(deps, access, 101, { sessionId: session.id });
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
  const untrack = deps.streams.add(
    liveStreamOf(access, (_message, reason) => {
      // SPDY has no place for a reason kubectl would print: the connection ends.
      endReason = reason;
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      socket.destroy();
    }),
  );
  endSessionWith(deps, access, socket, stream, session, requestStored, untrack, () => ({ endReason, writer: undefined, errorText: '' }));
}

export function relayFrames(
  deps: KubeDeps,
  access: Access,
  socket: Duplex,
  stream: ClientHttp2Stream,
  head: Buffer,
  { session, writer, channels }: { session: SessionRecord; writer: RecordingWriter | undefined; channels: boolean },
): void {
  const { id } = session;
  const requestStored = auditAllowed(deps, access, 101, { sessionId: id });

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
    // The recording is compressed off this thread; while it is behind, this side waits for it.
    const behind = writer?.backpressure();
    if (behind) {
      from.pause();
      void behind.then(() => from.resume());
    }
  };
  socket.on('data', relay(socket, stream, up, (f) => fromClient.frame(f)));
  stream.on('data', relay(stream, socket, down, (f) => fromServer.frame(f)));
  if (head.length > 0) socket.emit('data', head);

  const stop = (message: string, reason: string) => {
    if (endReason !== null) return;
    endReason = reason;
    const status = reason === 'expired' ? 401 : reason === RECORDING_FAILED ? 503 : 403;
    // Only whole frames were passed to kubectl, so these land between frames.
    if (channels) socket.write(serverFrame(OP_BINARY, Buffer.concat([Buffer.from([CH_ERROR]), Buffer.from(JSON.stringify(kubeStatus(status, message)))])));
    socket.end(closeFrame(reason === 'proxy shutdown' ? 1001 : status === 503 ? 1011 : 1008, message));
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const untrack = deps.streams.add(liveStreamOf(access, stop));
  // Not recorded means not allowed, in the middle of a session too.
  writer?.sink.onFailure(() => stop('ztsh cannot record this session any more; it was ended', RECORDING_FAILED));

  endSessionWith(deps, access, socket, stream, session, requestStored, untrack, () => ({ endReason, writer, errorText }));
}

/**
 * How every relayed session ends, whichever side goes first: the recording
 * closed, the session record and its end event stored (`state` says how it
 * ended, read at the end). When the cluster ends it, kubectl's side is ended
 * once the request's audit event (`requestStored`) is stored.
 */
function endSessionWith(
  deps: KubeDeps,
  access: Access,
  socket: Duplex,
  stream: ClientHttp2Stream,
  session: SessionRecord,
  requestStored: MaybePromise<void>,
  untrack: () => void,
  state: () => { endReason: string | null; writer: RecordingWriter | undefined; errorText: string },
): void {
  const { id, kind, command } = session;
  const metricEnded = deps.metrics?.sessionStarted(kind, session.cluster);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    metricEnded?.();
    untrack();
    const { endReason, writer, errorText } = state();
    const exit = errorText ? exitCodeOf(errorText) : { code: null };
    const endedAt = deps.now().getTime();
    const record = async () => {
      let recordingSize: number | null = null;
      try {
        // The store sink resolves once its last chunk is stored: the end is recorded after the whole recording.
        recordingSize = writer ? await writer.close() : null;
      } catch (error) {
        deps.log.error({ err: error, sessionId: id }, 'closing the recording failed');
      }
      const patch = sessionEndPatch(session, { endedAt, exitCode: exit.code, endReason, recordingSize });
      await deps.auth.sessions.update(id, patch);
      if (writer) await deps.auth.sessions.index(id, command.join(' '), `${writer.text.input}\n${writer.text.output}`);
      await deps.auth.audit(kind === 'portforward' ? 'port_forward.end' : 'session.end', true, sessionEndAudit(session, patch, access.accessRequests), true);
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
    whenStored(requestStored, (err) => deps.log.error({ err, sessionId: id }, 'the audit event of a session request was not stored'), () => socket.end());
    finish();
  });
  stream.on('error', endBoth);
  socket.on('error', endBoth);
  // Either side may have gone while auth was being told of the start.
  if (socket.destroyed || stream.destroyed) endBoth();
}
