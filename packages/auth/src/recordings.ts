// Where a session's recording is: chunks in the store when the store keeps
// recordings (storage.recordings, PostgreSQL: every replica reads the same),
// else the file under the recordings dir (the SQLite default). The routes
// only call these; a recording is always found through its session record,
// by the session's id, never by a name taken from a request.
//
// New recordings are the events format (`.ztrec.gz`), older ones asciicast
// (`.cast.gz`, `.cast`): cast-file.ts in @ztsh/protocol says which by the
// name. castBody() always gives asciicast v2: an events recording is turned
// into it on the way, gzip-encoded again for a client that takes gzip; a
// whole `.cast.gz` is served as it is stored, with Content-Encoding: gzip, to
// a client that takes gzip, and decoded on the way otherwise (a client that
// does not take gzip, or a recording its proxy never finished: no trailer,
// decoded up to its last sync flush). Plain `.cast` files are served as they
// are.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { castStream, castText, recordingFormat, ZtshError } from '@ztsh/protocol';
import type { SessionRecord, Storage } from './storage/storage.ts';

/** A chunk larger than this is no proxy's (its sink sends at most 1 MiB at a time). */
export const MAX_CHUNK_BYTES = 2 * 1024 * 1024;
/** A seq is a chunk's number, from 0: digits only, no sign, exponent or leading zero. */
const SEQ = /^(0|[1-9][0-9]{0,8})$/;

/** The recording as written so far: a Buffer from the store or a stream of the file; undefined when there is none. */
export async function openRecording(storage: Storage, recordingsDir: string, session: SessionRecord): Promise<Buffer | Readable | undefined> {
  if (!session.recordingPath) return undefined;
  if (storage.recordings) {
    const bytes = await storage.recordings.read(session.id);
    return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const path = join(recordingsDir, session.recordingPath);
  return existsSync(path) ? createReadStream(path) : undefined;
}

/** The recording as text, for closing a session from what it holds; undefined when there is none or it cannot be read. */
export async function recordingText(storage: Storage, recordingsDir: string, session: SessionRecord): Promise<{ text: string; size: number } | undefined> {
  const body = await openRecording(storage, recordingsDir, session);
  if (body === undefined) return undefined;
  let bytes: Buffer;
  if (Buffer.isBuffer(body)) bytes = body;
  else {
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    bytes = Buffer.concat(parts);
  }
  return { text: castText(bytes, session.recordingPath!), size: bytes.length };
}

/** Ends with which the proxy never finished the recording's gzip stream. */
const UNFINISHED = new Set(['interrupted', 'replica lost', 'recording failed']);

/** Whether the proxy closed this recording's gzip stream: the session ended and its recording was closed. */
export function recordingFinished(session: SessionRecord): boolean {
  return session.endedAt !== null && session.recordingSize !== null && !UNFINISHED.has(session.endReason ?? '');
}

/** The recording as the client gets it: asciicast v2, gzip-encoded when the client takes gzip. */
export async function castBody(storage: Storage, recordingsDir: string, session: SessionRecord, acceptsGzip: boolean): Promise<{ body: Readable; gzip: boolean } | undefined> {
  const stored = await openRecording(storage, recordingsDir, session);
  if (stored === undefined) return undefined;
  const body = Buffer.isBuffer(stored) ? Readable.from([stored]) : stored;
  const format = recordingFormat(session.recordingPath!);
  if (format === 'cast') return { body, gzip: false };
  if (format === 'cast.gz' && acceptsGzip && recordingFinished(session)) return { body, gzip: true };
  const gzip = acceptsGzip && format === 'ztrec.gz';
  return { body: castStream(body, session.recordingPath!, gzip), gzip };
}

/** A chunk number from a request path. */
export function chunkSeq(text: string): number {
  if (!SEQ.test(text)) throw new ZtshError('bad_request', `chunk number ${JSON.stringify(text.slice(0, 20))} is not a whole number from 0`);
  return Number(text);
}

/** Reads a chunk's body, refusing more than MAX_CHUNK_BYTES whatever Content-Length said. */
export async function readChunk(body: AsyncIterable<unknown>, declaredLength: string): Promise<Buffer> {
  if (Number(declaredLength) > MAX_CHUNK_BYTES) throw new ZtshError('bad_request', 'the recording chunk is too large');
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of body) {
    size += (part as Buffer).length;
    if (size > MAX_CHUNK_BYTES) throw new ZtshError('bad_request', 'the recording chunk is too large');
    parts.push(part as Buffer);
  }
  if (size === 0) throw new ZtshError('bad_request', 'the recording chunk is empty');
  return Buffer.concat(parts, size);
}

/**
 * Appends a chunk a proxy sent for its session (the caller has checked the
 * session is that proxy's). A session that ended has a complete recording:
 * nothing is added to it after.
 */
export async function appendChunk(storage: Storage, session: SessionRecord, seq: number, data: Uint8Array): Promise<void> {
  if (!storage.recordings) {
    throw new ZtshError('conflict', 'this auth service keeps recordings in files', { hint: 'hand the recording over whole when the session ends' });
  }
  if (!session.recordingPath) throw new ZtshError('bad_request', `session ${session.id} is not recorded`);
  if (session.endedAt !== null) throw new ZtshError('conflict', `session ${session.id} has ended; its recording is complete`);
  await storage.recordings.append(session.id, seq, data);
}
