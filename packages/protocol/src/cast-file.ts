// How a recording is stored, told by its name, here and nowhere else:
//   `<day>/<session id>.ztrec.gz`  every new session: the bytes each side
//                                  sent, with their time (recording-events.ts),
//                                  one gzip stream the proxy flushes with
//                                  Z_SYNC_FLUSH at least every second;
//   `<day>/<session id>.cast.gz`   from versions before: asciicast v2 in gzip,
//                                  flushed the same way;
//   `<day>/<session id>.cast`      from versions before that: plain asciicast v2.
// Whatever the format, readers get asciicast v2 (castText, castStream).
//
// A gzip recording whose session did not end well (the proxy was killed, a
// replica was lost) has no gzip trailer and may end inside a block: it is
// read up to where its bytes run out, which is at most a second before the
// crash. A last event or line cut in two is skipped.
import { pipeline, Transform, type Readable } from 'node:stream';
import { constants, createGunzip, createGzip, gunzipSync } from 'node:zlib';
import { RecordingDecoder, RecordingFormatError, RecordingTooLargeError } from './recording-events.ts';

export const ZTREC_GZ = '.ztrec.gz';
export const CAST_GZ = '.cast.gz';
export const CAST = '.cast';

export type RecordingFormat = 'ztrec.gz' | 'cast.gz' | 'cast';

/** A recording's file name, `<session id><format's ending>`, as the source of a regular expression; the id is its one group. */
export const RECORDING_FILE_NAME = '([0-9a-f-]{36})\\.(?:ztrec\\.gz|cast\\.gz|cast)';

/** The recording's name for a session: every new session's is in the events format. */
export function recordingName(sessionId: string): string {
  return `${sessionId}${ZTREC_GZ}`;
}

/** Every name a session's recording may have, newest first. */
export function recordingNames(sessionId: string): string[] {
  return [ZTREC_GZ, CAST_GZ, CAST].map((ext) => sessionId + ext);
}

/** What a recording path holds, by its name. */
export function recordingFormat(recordingPath: string): RecordingFormat {
  if (recordingPath.endsWith(ZTREC_GZ)) return 'ztrec.gz';
  if (recordingPath.endsWith(CAST_GZ)) return 'cast.gz';
  return 'cast';
}

/** The most a recording is decoded to in memory (search text, the end of a lost session); one that holds more (or a gzip bomb) is refused. */
export const MAX_CAST_TEXT_BYTES = 256 * 1024 * 1024;

/** What a stored recording says, as asciicast v2 text: gzip decoded, a missing trailer or a cut block forgiven. */
export function castText(bytes: Uint8Array, recordingPath: string, maxBytes = MAX_CAST_TEXT_BYTES): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = recordingFormat(recordingPath);
  if (format === 'cast') return buffer.toString('utf8');
  let plain: Buffer;
  try {
    // finishFlush: what a truncated stream holds comes out instead of an "unexpected end of file".
    plain = gunzipSync(buffer, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(recordingPath, maxBytes, error);
    throw new Error(`the recording ${recordingPath} is not a readable gzip stream: ${(error as Error).message}`, { cause: error });
  }
  if (format === 'cast.gz') return plain.toString('utf8');
  const decoder = new RecordingDecoder(maxBytes);
  try {
    const lines = decoder.push(plain);
    decoder.end();
    return Buffer.concat(lines).toString('utf8');
  } catch (error) {
    throw readError(recordingPath, maxBytes, error);
  }
}

/**
 * A stored recording as a stream of asciicast v2, for replay: `gzip` when
 * the reader takes gzip (the events format is turned into asciicast on the
 * way and compressed again). An error in the recording ends the stream with
 * it.
 */
export function castStream(stored: Readable, recordingPath: string, gzip: boolean): Readable {
  const format = recordingFormat(recordingPath);
  if (format === 'cast') return stored;
  const streams: NodeJS.ReadWriteStream[] = [createGunzip({ finishFlush: constants.Z_SYNC_FLUSH })];
  if (format === 'ztrec.gz') streams.push(asciicastLines(recordingPath));
  if (gzip) streams.push(createGzip({ level: constants.Z_BEST_SPEED }));
  // pipeline: an error or an early close anywhere destroys every stream, the stored one too.
  return pipeline([stored, ...streams], () => undefined) as unknown as Readable;
}

/** The events format as asciicast lines, as a stream. */
function asciicastLines(recordingPath: string): Transform {
  const decoder = new RecordingDecoder();
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        for (const line of decoder.push(chunk)) this.push(line);
        done();
      } catch (error) {
        done(readError(recordingPath, Number.POSITIVE_INFINITY, error));
      }
    },
    flush(done) {
      try {
        decoder.end();
        done();
      } catch (error) {
        done(readError(recordingPath, Number.POSITIVE_INFINITY, error));
      }
    },
  });
}

function tooLarge(recordingPath: string, maxBytes: number, cause: unknown): Error {
  return new Error(`the recording ${recordingPath} decodes to more than ${maxBytes / 1024 / 1024} MiB`, { cause });
}

function readError(recordingPath: string, maxBytes: number, error: unknown): Error {
  if (!(error instanceof RecordingFormatError)) return error as Error;
  if (error instanceof RecordingTooLargeError) return tooLarge(recordingPath, maxBytes, error);
  return new Error(`the recording ${recordingPath} cannot be read: ${error.message}`, { cause: error });
}
