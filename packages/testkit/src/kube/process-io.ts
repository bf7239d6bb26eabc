// What a command run by exec/attach gets: its arguments, stdin as a stream that ends when the
// client closes it, writers for stdout/stderr, the pod's filesystem, and an abort signal that
// fires when the client goes away. A command resolves to its exit code.
import type { Readable } from 'node:stream';
import type { PodFs } from './pod-fs.ts';

export interface ProcessIo {
  args: string[];
  tty: boolean;
  stdin: Readable;
  stdout(chunk: Buffer | string): void;
  stderr(chunk: Buffer | string): void;
  fs: PodFs;
  signal: AbortSignal;
}

export type Command = (io: ProcessIo) => Promise<number>;
