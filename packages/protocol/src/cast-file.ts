// How a recording is stored: `<day>/<session id>.cast.gz`, one gzip stream
// the proxy flushes with Z_SYNC_FLUSH at least every second, or, in data
// dirs from before, `<day>/<session id>.cast`, plain asciicast v2. The name
// says which, here and nowhere else.
//
// A gzip recording whose session did not end well (the proxy was killed, a
// replica was lost) has no gzip trailer and may end inside a block: it is
// read up to where its bytes run out, which is at most a second before the
// crash. parseAsciicast then skips a last line cut in two.
import { constants, gunzipSync } from 'node:zlib';

export const CAST_GZ = '.cast.gz';

/** The recording's name for a session: compressed for every new session. */
export function recordingName(sessionId: string): string {
  return `${sessionId}${CAST_GZ}`;
}

/** Whether a recording path names a gzip recording. */
export function isGzipCast(recordingPath: string): boolean {
  return recordingPath.endsWith(CAST_GZ);
}

/** The most a gzip recording is decoded to in memory (search text, the end of a lost session); one that holds more (or a gzip bomb) is refused. */
export const MAX_CAST_TEXT_BYTES = 256 * 1024 * 1024;

/** What a stored recording says, as asciicast v2 text: gzip decoded, a missing trailer or a cut block forgiven. */
export function castText(bytes: Uint8Array, recordingPath: string, maxBytes = MAX_CAST_TEXT_BYTES): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isGzipCast(recordingPath)) return buffer.toString('utf8');
  try {
    // finishFlush: what a truncated stream holds comes out instead of an "unexpected end of file".
    return gunzipSync(buffer, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes }).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`the recording ${recordingPath} decodes to more than ${maxBytes / 1024 / 1024} MiB`, { cause: error });
    throw new Error(`the recording ${recordingPath} is not a readable gzip stream: ${(error as Error).message}`, { cause: error });
  }
}
