// `ztsh audit export | head`: once the reader has what it wants and closes
// the pipe, the next write fails with EPIPE. That is not an error of ztsh:
// stop at once, quietly, with the status a Unix tool killed by SIGPIPE has
// (128 + 13), so that `set -o pipefail` scripts see what they would see of
// `cat`. Node ignores SIGPIPE itself, so the status is set by hand.
export const CLOSED_PIPE_STATUS = 141;

export function exitOnClosedPipe(stream: NodeJS.WritableStream, exit: (status: number) => void = (status) => process.exit(status)): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') return exit(CLOSED_PIPE_STATUS);
    throw error;
  });
}
