// An exec recorded into the store rather than a file (what several replicas
// on PostgreSQL do): the real kubectl through the proxy, the chunks in a
// store kept in memory with the store's contract, and an auditor replaying
// it through the API from there. Nothing is written under the recordings dir.
import { existsSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { RecordingStore } from '@ztsh/auth';
import { castText, parseAsciicast } from '@ztsh/protocol';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { credentialsOf, rawRequest } from './security/helpers/raw-client.ts';

class MemoryRecordingStore implements RecordingStore {
  readonly chunks = new Map<string, Map<number, Buffer>>();
  async append(sessionId: string, seq: number, data: Uint8Array): Promise<void> {
    const chunks = this.chunks.get(sessionId) ?? new Map<number, Buffer>();
    this.chunks.set(sessionId, chunks);
    if (!chunks.has(seq)) chunks.set(seq, Buffer.from(data));
  }
  async read(sessionId: string): Promise<Uint8Array | undefined> {
    const chunks = this.chunks.get(sessionId);
    return chunks && Buffer.concat([...chunks.entries()].sort(([a], [b]) => a - b).map(([, d]) => d));
  }
  async size(sessionId: string): Promise<number> {
    return (await this.read(sessionId))?.length ?? 0;
  }
}

let k: KubeEnv;
const store = new MemoryRecordingStore();

beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
  k.stack.ztshd.auth.storage.recordings = store;
}, 120_000);
afterAll(() => k?.close());

describe('an exec recorded into the store', () => {
  it('is appended in chunks, closed after its last chunk, and replayed from the store', async () => {
    const bin = findKubectl('1.33', process.env.PATH)!;
    const ran = await runKubectl(bin, ['exec', '-i', 'web-1', '--', 'cat'], { env: k.env, timeoutMs: 60_000, input: 'stored-line-1\nstored-line-2\n' });
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('stored-line-2');

    const storage = k.stack.ztshd.auth.storage;
    await expect.poll(async () => (await storage.sessions.search({ user: 'alice' })).find((s) => s.endedAt !== null), { timeout: 15_000 }).toBeTruthy();
    const session = (await storage.sessions.search({ user: 'alice' }))[0]!;
    const bytes = Buffer.from((await store.read(session.id))!);
    // The end was recorded after the last chunk: its size is the whole recording.
    expect(session.recordingSize).toBe(bytes.length);
    const seqs = [...store.chunks.get(session.id)!.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    // The store holds the same sync-flushed gzip stream as a .ztrec.gz file, whole once the session ended.
    expect(session.recordingPath).toMatch(/\.ztrec\.gz$/);
    expect(() => gunzipSync(bytes)).not.toThrow();
    const text = castText(bytes, session.recordingPath!);
    const output = parseAsciicast(text).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    expect(output).toContain('stored-line-1\nstored-line-2\n');
    expect(!existsSync(k.stack.ztshd.auth.recordingsDir) || readdirSync(k.stack.ztshd.auth.recordingsDir).length === 0).toBe(true);

    const carol = await credentialsOf({ url: k.stack.url, tlsCa: k.stack.tlsCa }, 'carol');
    const cast = await rawRequest({ url: k.stack.url, tlsCa: k.stack.tlsCa }, { path: `/v1/recordings/${session.id}/cast`, as: carol });
    expect(cast.status).toBe(200);
    // No Accept-Encoding: decoded by the server.
    expect(cast.headers['content-encoding']).toBeUndefined();
    expect(cast.body).toBe(text);
  }, 120_000);
});
