// What a command run by exec/attach gets: its arguments, stdin as a stream that ends when the
// client closes it, writers for stdout/stderr (and drain, to wait for a slow reader), the pod's
// filesystem (seen from the working directory), and an abort signal that fires when the client
// goes away. A command resolves to its exit code. With a TTY, exec.ts turns each \n written
// into \r\n, as a terminal's line discipline does: commands always write \n.
import type { Readable } from 'node:stream';
import type { PodFs } from './pod-fs.ts';

export interface ProcessIo {
  args: string[];
  tty: boolean;
  stdin: Readable;
  stdout(chunk: Buffer | string): void;
  stderr(chunk: Buffer | string): void;
  /**
   * Resolves when the output written so far no longer piles up on the way to the client (at
   * once unless much is queued). A command that writes a lot awaits it after each write, so
   * a slow reader slows it down the way a full pipe would.
   */
  drain(): Promise<void>;
  fs: PodFs;
  signal: AbortSignal;
  /** The working directory (default /); `fs` resolves relative paths against it. */
  cwd?: string;
  /** The pod's hostname: in Kubernetes, the pod's name. */
  hostname?: string;
}

export type Command = (io: ProcessIo) => Promise<number>;
