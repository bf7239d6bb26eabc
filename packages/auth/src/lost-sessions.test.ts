import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { constants, createGzip } from 'node:zlib';
import pino from 'pino';
import { EVENT_HEADER_BYTES, EVENT_INPUT, EVENT_OUTPUT, recordingPreamble, writeEventHeader } from '@ztsh/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog, type AuditLog } from './audit/audit-log.ts';
import { ManualClock } from './clock.ts';
import { closeLostSessions, LOST_AFTER_MS } from './lost-sessions.ts';
import { openSqliteStorage } from './storage/sqlite.ts';
import type { RecordingStore, ReplicaRecord, SessionRecord, Storage } from './storage/storage.ts';

const log = pino({ level: 'silent' });
const T0 = Date.parse('2026-03-01T10:00:00Z');

/** Recordings in memory, with the store's contract: chunks by session and seq, each seq kept once. */
function memoryRecordings(): RecordingStore {
  const chunks = new Map<string, Map<number, Buffer>>();
  const read = async (id: string) => {
    const mine = chunks.get(id);
    return mine ? Buffer.concat([...mine.entries()].sort(([a], [b]) => a - b).map(([, d]) => d)) : undefined;
  };
  return {
    append: async (id, seq, data) => {
      const mine = chunks.get(id) ?? new Map<number, Buffer>();
      chunks.set(id, mine);
      if (!mine.has(seq)) mine.set(seq, Buffer.from(data));
    },
    read,
    size: async (id) => (await read(id))?.length ?? 0,
  };
}

/** The heartbeat table, for an engine that has none of its own yet; the engines' own is used when they have one. */
function memoryReplicas(): Storage['replicas'] {
  const rows = new Map<string, ReplicaRecord>();
  return {
    heartbeat: async (r) => void rows.set(r.id, { ...r }),
    live: async (since) => [...rows.values()].filter((r) => r.heartbeatAt >= since),
    remove: async (id) => void rows.delete(id),
  };
}

function sessionOf(startedAt: number, endedAt: number | null = null): SessionRecord {
  const id = randomUUID();
  return {
    id, kind: 'exec', user: 'alice', roles: ['developer'], cluster: 'sandbox', namespace: 'default', pod: 'web-0', container: null, command: ['sh'], tty: true,
    kubernetesUser: 'alice', kubernetesGroups: [], clientIp: null, startedAt, endedAt, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath: `2026-03-01/${id}.cast`, recordingSize: null,
  };
}

const CAST = '{"version":2,"width":80,"height":24,"timestamp":0}\n[0.5,"i","cat /etc/secret-plans\\r"]\n[1.25,"o","\\u001b[1mtop secret\\u001b[0m\\r\\n"]\n';

let dir: string;
let storage: Storage;
let clock: ManualClock;
let audit: AuditLog;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ztsh-lost-'));
  storage = openSqliteStorage(join(dir, 'ztsh.db'));
  storage.recordings = memoryRecordings();
  // Engines without the heartbeat table yet get one in memory; the method is what is under test.
  (storage as { replicas?: Storage['replicas'] }).replicas ??= memoryReplicas();
  clock = new ManualClock(T0);
  audit = createAuditLog(storage, clock);
});
afterEach(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (self?: string) => ({ storage, audit, clock, log, recordingsDir: join(dir, 'recordings'), self: () => self });

/** An open session of replica-b, whose heartbeat went stale, its recording named with `ending`. */
async function lostSessionRecordedAs(ending: string): Promise<SessionRecord> {
  await storage.replicas.heartbeat({ id: 'replica-b', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 - LOST_AFTER_MS - 1 });
  const lost = { ...sessionOf(T0 - 30_000) };
  lost.recordingPath = lost.recordingPath!.replace(/\.cast$/, ending);
  await storage.sessions.insert(lost, 'replica-b');
  return lost;
}

/** One gzip stream cut in batches as the proxy's gzip sink appends them: each batch's bytes end with a sync flush. */
function syncFlushedGzip() {
  const gzip = createGzip();
  const out: Buffer[] = [];
  gzip.on('data', (d: Buffer) => out.push(d));
  return {
    batch: (data: string | Buffer) =>
      new Promise<Buffer>((resolve) => {
        gzip.write(data);
        gzip.flush(constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(out.splice(0))));
      }),
    destroy: () => gzip.destroy(),
  };
}

describe('closeLostSessions', () => {
  it('reads a lost replica\'s .cast.gz chunks, cut without their gzip trailer, up to the last sync flush', async () => {
    const lost = await lostSessionRecordedAs('.cast.gz');
    // Two batches, each ended by a sync flush, as the proxy's gzip sink appends them; then the replica died.
    const gzip = syncFlushedGzip();
    const [head, ...events] = CAST.split(/(?<=\n)/);
    await storage.recordings!.append(lost.id, 0, await gzip.batch(head!));
    await storage.recordings!.append(lost.id, 1, await gzip.batch(events.join('')));
    gzip.destroy();

    expect(await closeLostSessions(options())).toBe(1);
    const closed = (await storage.sessions.get(lost.id))!;
    expect(closed.endedAt).toBe(lost.startedAt + 1250);
    expect((await storage.sessions.search({ text: 'secret-plans' })).map((s) => s.id)).toEqual([lost.id]);
  });

  it('reads a lost replica\'s .ztrec.gz chunks, the last one cut inside an event, up to the last whole event', async () => {
    const lost = await lostSessionRecordedAs('.ztrec.gz');
    const gzip = syncFlushedGzip();
    const event = (kind: number, seconds: number, text: string) => {
      const data = Buffer.from(text);
      const head = Buffer.alloc(EVENT_HEADER_BYTES);
      writeEventHeader(head, 0, kind, seconds, data.length);
      return Buffer.concat([head, data]);
    };
    await storage.recordings!.append(lost.id, 0, await gzip.batch(recordingPreamble({ version: 2, width: 80, height: 24, timestamp: 0 })));
    await storage.recordings!.append(lost.id, 1, await gzip.batch(Buffer.concat([event(EVENT_INPUT, 0.5, 'cat /etc/secret-plans\r'), event(EVENT_OUTPUT, 1.25, 'top secret\r\n')])));
    await storage.recordings!.append(lost.id, 2, await gzip.batch(event(EVENT_OUTPUT, 9, 'never whole').subarray(0, 20)));
    gzip.destroy();

    expect(await closeLostSessions(options())).toBe(1);
    const closed = (await storage.sessions.get(lost.id))!;
    expect(closed.endedAt).toBe(lost.startedAt + 1250);
    expect((await storage.sessions.search({ text: 'secret-plans' })).map((s) => s.id)).toEqual([lost.id]);
  });

  it('ends the open sessions of a replica whose heartbeat went stale with what the store holds, once, and forgets the replica', async () => {
    await storage.replicas.heartbeat({ id: 'replica-a', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 - 1_000 });
    await storage.replicas.heartbeat({ id: 'replica-b', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 - LOST_AFTER_MS - 1 });
    const lost = sessionOf(T0 - 30_000);
    const finished = sessionOf(T0 - 40_000, T0 - 35_000);
    const onLive = sessionOf(T0 - 20_000);
    await storage.sessions.insert(lost, 'replica-b');
    await storage.sessions.insert(finished, 'replica-b');
    await storage.sessions.insert(onLive, 'replica-a');
    await storage.recordings!.append(lost.id, 0, Buffer.from(CAST));

    expect(await closeLostSessions(options('replica-a'))).toBe(1);

    const closed = (await storage.sessions.get(lost.id))!;
    expect(closed.endReason).toBe('replica lost');
    // Its end is its recording's last event: what the store holds is what is kept.
    expect(closed.endedAt).toBe(lost.startedAt + 1250);
    expect(closed.recordingSize).toBe(Buffer.byteLength(CAST));
    expect((await storage.sessions.get(finished.id))!.endReason).toBeNull();
    expect((await storage.sessions.get(finished.id))!.endedAt).toBe(T0 - 35_000);
    expect((await storage.sessions.get(onLive.id))!.endedAt).toBeNull();
    // What was typed and shown is searchable, escape sequences removed.
    expect((await storage.sessions.search({ text: 'secret-plans' })).map((s) => s.id)).toEqual([lost.id]);
    expect((await storage.sessions.search({ text: 'top secret' })).map((s) => s.id)).toEqual([lost.id]);
    // The end is in the audit log, as a failure naming the replica.
    audit.flush();
    const ends = (await storage.audit.search({ sessionId: lost.id, type: 'session.end' }));
    expect(ends).toHaveLength(1);
    expect(ends[0]!.success).toBe(false);
    expect(ends[0]!.fields).toMatchObject({ endReason: 'replica lost', replica: 'replica-b', recordingSize: Buffer.byteLength(CAST) });
    expect((await storage.replicas.live(0)).map((r) => r.id)).toEqual(['replica-a']);

    // A second look finds nothing more to do.
    expect(await closeLostSessions(options('replica-a'))).toBe(0);
    audit.flush();
    expect(await storage.audit.search({ sessionId: lost.id, type: 'session.end' })).toHaveLength(1);
  });

  it('leaves the work to the live replica with the lowest id', async () => {
    await storage.replicas.heartbeat({ id: 'replica-a', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 });
    await storage.replicas.heartbeat({ id: 'replica-c', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 });
    await storage.replicas.heartbeat({ id: 'replica-b', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 - LOST_AFTER_MS - 1 });
    const lost = sessionOf(T0 - 30_000);
    await storage.sessions.insert(lost, 'replica-b');
    expect(await closeLostSessions(options('replica-c'))).toBe(0);
    expect((await storage.sessions.get(lost.id))!.endedAt).toBeNull();
    expect(await closeLostSessions(options('replica-a'))).toBe(1);
    // No recording in the store: ended at its start, with no size.
    expect(await storage.sessions.get(lost.id)).toMatchObject({ endedAt: lost.startedAt, endReason: 'replica lost', recordingSize: null });
  });

  it('ends as interrupted the sessions a replica left before it started again under the same id, and only those', async () => {
    await storage.replicas.heartbeat({ id: 'replica-a', addr: null, startedAt: T0 - 5_000, heartbeatAt: T0 });
    const before = sessionOf(T0 - 10_000);
    const since = sessionOf(T0 - 2_000);
    await storage.sessions.insert(before, 'replica-a');
    await storage.sessions.insert(since, 'replica-a');
    expect(await closeLostSessions(options('replica-a'))).toBe(1);
    expect((await storage.sessions.get(before.id))!.endReason).toBe('interrupted');
    expect((await storage.sessions.get(since.id))!.endedAt).toBeNull();
    expect((await storage.replicas.live(0)).map((r) => r.id)).toEqual(['replica-a']);
  });

  it('a session the replica ended itself meanwhile keeps its own end', async () => {
    await storage.replicas.heartbeat({ id: 'replica-b', addr: null, startedAt: T0 - 60_000, heartbeatAt: T0 - LOST_AFTER_MS - 1 });
    const s = sessionOf(T0 - 30_000);
    await storage.sessions.insert(s, 'replica-b');
    // The replica's own end lands while the recording is being read.
    const read = storage.recordings!.read.bind(storage.recordings);
    storage.recordings!.read = async (id) => {
      await storage.sessions.update(id, { endedAt: T0 - 100, endReason: null, exitCode: 0 });
      return read(id);
    };
    expect(await closeLostSessions(options())).toBe(0);
    expect(await storage.sessions.get(s.id)).toMatchObject({ endedAt: T0 - 100, endReason: null, exitCode: 0 });
  });
});
