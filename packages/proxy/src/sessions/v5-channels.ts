// v5.channel.k8s.io as the recorder reads it: each WebSocket message starts
// with the byte of its channel. stdin (0) from kubectl; stdout (1), stderr
// (2) and the error channel (3, a Status that carries the exit code) from
// the cluster; resizes (4) from kubectl.
import { OP_BINARY, OP_CONTINUATION, OP_TEXT, type Frame } from './ws-frames.ts';

export const CH_STDIN = 0;
export const CH_STDOUT = 1;
export const CH_STDERR = 2;
export const CH_ERROR = 3;
export const CH_RESIZE = 4;

/** Splits frames into channel messages: the first frame of a message names its channel. */
export class ChannelReader {
  private channel = -1;
  constructor(private readonly onData: (channel: number, data: Buffer, last: boolean) => void) {}
  frame(frame: Frame): void {
    if (frame.opcode === OP_BINARY || frame.opcode === OP_TEXT) {
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
 * Reads the exit code from the error channel's Status: 0 on Success, N for
 * NonZeroExitCode with an ExitCode cause of plain digits; null (with the
 * Status's message, if any) for anything else, such as a failure to start.
 */
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
