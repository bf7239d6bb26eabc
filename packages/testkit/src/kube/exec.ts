// The remote-command WebSocket protocol of exec and attach (v5.channel.k8s.io, and v4):
// every binary message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr,
// 3 error/exit Status JSON, 4 terminal resize — and in v5 the two bytes [255, ch] close a
// channel (kubectl sends [255, 0] when its stdin ends). The command's exit becomes a Status on
// channel 3 (Success, or Failure/NonZeroExitCode with the code), then the socket closes.
// With tty=true there is one output stream, and each LF written goes out as CR LF, as a
// terminal's ONLCR does; without a TTY the bytes go out as written.
import { PassThrough } from 'node:stream';
import { WebSocket } from 'ws';
import type { PodFs } from './pod-fs.ts';
import type { Command } from './process-io.ts';

export const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;
/** How long after the streams are up the command starts (a runtime's exec takes tens of ms). */
export const PROCESS_START_MS = 20;
/** Output queued beyond this makes io.drain() wait for the socket. */
const HIGH_WATER_MARK = 1024 * 1024;

export interface ChannelSession {
  query: URLSearchParams;
  fs: PodFs;
  /** The program: exec's command, or attach's stand-in for the container's main process. */
  run: Command;
  /** Argv for exec (used in the exit message); empty for attach. */
  args: string[];
  /** The pod's name, its hostname. */
  hostname?: string;
  /** ms before `run` starts: an exec starts a process (PROCESS_START_MS); an attach joins one already running (0). */
  startMs?: number;
  onResize?: (size: { Width: number; Height: number }) => void;
}

/** A terminal's output processing (ONLCR): every LF becomes CR LF. */
export function onlcr(chunk: Buffer | string): Buffer {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  let lfs = 0;
  for (const b of bytes) if (b === 0x0a) lfs++;
  if (lfs === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + lfs);
  let at = 0;
  for (const b of bytes) {
    if (b === 0x0a) out[at++] = 0x0d;
    out[at++] = b;
  }
  return out;
}

export function exitStatus(code: number, args: string[]): object {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${args.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function serveChannels(ws: WebSocket, s: ChannelSession): void {
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  const tty = s.query.get('tty') === 'true';
  const wants = (name: string) => s.query.get(name) === 'true' || s.query.get(name) === '1';
  const stdin = new PassThrough();
  if (!wants('stdin')) stdin.end();
  const abort = new AbortController();

  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const channel = buf[0];
    const payload = buf.subarray(1);
    if (channel === STDIN && !stdin.writableEnded) stdin.write(payload);
    else if (channel === CLOSE && v5 && buf[1] === STDIN) stdin.end();
    else if (channel === RESIZE && payload.length > 0) {
      try {
        s.onResize?.(JSON.parse(payload.toString('utf8')) as { Width: number; Height: number });
      } catch {
        // a malformed resize is ignored, as the kubelet does
      }
    }
  });
  ws.on('close', () => {
    if (!stdin.writableEnded) stdin.end();
    abort.abort();
  });

  // Settles once the last message sent has gone to the socket (or the socket is gone).
  let lastSent: Promise<void> = Promise.resolve();
  const send = (channel: number, chunk: Buffer | string) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length === 0) return;
    const message = Buffer.concat([Buffer.from([channel]), bytes]);
    lastSent = new Promise((resolve) => ws.send(message, () => resolve()));
  };
  const drain = () => (ws.readyState === WebSocket.OPEN && ws.bufferedAmount >= HIGH_WATER_MARK ? lastSent : Promise.resolve());
  const stdout = (chunk: Buffer | string) => wants('stdout') && send(STDOUT, tty ? onlcr(chunk) : chunk);
  // With a TTY there is one output stream, as from a real pty.
  const stderr = (chunk: Buffer | string) => (tty ? stdout(chunk) : wants('stderr') && send(STDERR, chunk));

  const finish = (code: number) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([ERROR]), Buffer.from(JSON.stringify(exitStatus(code, s.args)))]));
    ws.close(1000);
  };
  // An exec's process starts a moment after the streams are up, as a
  // container runtime's does: output in the same instant races kubectl
  // 1.30's stream setup, whose read loop drops frames for streams it has
  // not made yet ("Unknown stream id 1, discarding message").
  const start = () => {
    if (ws.readyState !== WebSocket.OPEN) return;
    s.run({ args: s.args, tty, stdin, stdout, stderr, drain, fs: s.fs, signal: abort.signal, cwd: '/', ...(s.hostname !== undefined ? { hostname: s.hostname } : {}) }).then(finish, (err: unknown) => {
      stderr(`${(err as Error).message}\n`);
      finish(126);
    });
  };
  // An attach is there at once: what the container prints next is seen.
  if (s.startMs) setTimeout(start, s.startMs);
  else start();
}
