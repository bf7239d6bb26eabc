// The PostgreSQL store's new inputs: what auditors type into a search (text,
// user, cluster, type, session id, id prefixes) reaches SQL, and the storage
// section of ztsh.yaml holds how to reach the database. Search words with
// SQL, LIKE and tsquery syntax (' \ & | ! : * ( ) % _ and NUL) must neither
// fail nor widen a search; a password must never sit in the config itself.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditText } from '../../packages/auth/src/storage/audit-chain.ts';
import { openPostgresStorage } from '../../packages/auth/src/storage/postgres.ts';
import { searchDocument } from '../../packages/auth/src/storage/search-words.ts';
import { StorageConfigSchema } from '../../packages/auth/src/storage/storage-config.ts';
import type { NewAuditEvent, Storage } from '../../packages/auth/src/storage/storage.ts';
import { ZtshdConfigSchema } from '../../packages/server/src/config.ts';
import { parseConfig } from '@ztsh/protocol';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const HOSTILE = ["'", "''", '\\', '\\\\', '&', '|', '!', ':', '*', '(', ')', '%', '_', '"', ';', '--', '\u0000', "' OR '1'='1", "'; DROP TABLE audit_events; --", 'a:* & !b | (c)', '%rm%', 'r_', '\\%', '$1', '\u{1F600}'];

// Long words that do not compress (GIN compresses a key before its size check): hex, and CJK letters (3 bytes each in UTF-8).
const LONG_HEX = Array.from({ length: 80 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')).join('');
const LONG_CJK = Array.from(createHash('sha512').update('cjk').digest().toString('hex').repeat(24), (c, i) => String.fromCodePoint(0x4e00 + ((c.charCodeAt(0) * 7919 + i * 104_729) % 0x5000))).join('');

let server: TestPostgres;
let storage: Storage;
const events: NewAuditEvent[] = [
  'rm -rf /var/lib/data',
  "it's O'Reilly's",
  'back\\slash and 100% of a_b',
  'a:* & !b | (c)',
  "'; DROP TABLE audit_events; --",
  'nul \u0000 inside',
  // Words too long for a key of the word index (a GIN key must fit in a third of a page): appends must not fail.
  `${LONG_HEX} tail`,
  `${LONG_CJK} cjk`,
  `${'w'.repeat(201)} ${'v'.repeat(200)}`,
].map((message, i) => ({
  time: new Date(T0 + i * 1000).toISOString(),
  type: 'kube.request',
  code: 'ZA2000I',
  success: true,
  user: i === 1 ? "o'reilly" : 'alice',
  message,
  fields: { cluster: i === 2 ? "c'1" : 'prod', sessionId: `s${i}` },
}));

beforeAll(async () => {
  server = await startPostgres();
  storage = await openPostgresStorage({ url: await server.createDatabase() });
  await storage.audit.appendMany(events);
  await storage.sessions.insert({
    id: 'abcd-1', kind: 'exec', user: "o'reilly", roles: [], cluster: 'prod', namespace: 'n', pod: 'p', container: null, command: ['sh'],
    tty: false, kubernetesUser: 'x', kubernetesGroups: [], clientIp: null, startedAt: T0, endedAt: null, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath: null, recordingSize: null,
  });
  await storage.sessions.index('abcd-1', 'sh', "echo 'x' && rm -rf / | tee 100%");
}, 120_000);
afterAll(async () => {
  await storage?.close();
  await server?.stop();
}, 120_000);

/** What the search must return: the events whose words hold the query's words in a row (FTS5's phrase). */
function expected(text: string): number[] {
  // No text: no text filter.
  if (!text) return events.map((_, i) => i + 1).reverse();
  const phrase = searchDocument(text);
  if (!phrase) return [];
  return events
    .map((e, i) => ({ seq: i + 1, doc: searchDocument(auditText(e)) }))
    .filter((e) => e.doc.includes(phrase))
    .map((e) => e.seq)
    .reverse();
}

describe('audit and session search on PostgreSQL with hostile words', () => {
  it('takes SQL, LIKE and tsquery syntax as plain words: no error, no widening', async () => {
    for (const text of HOSTILE) {
      expect((await storage.audit.search({ text })).map((e) => e.seq), JSON.stringify(text)).toEqual(expected(text));
      for (const key of ['user', 'cluster', 'type', 'sessionId'] as const) {
        // A type of "*" is the prefix "" (every type), as on SQLite.
        const all = key === 'type' && text === '*' ? events.length : 0;
        expect(await storage.audit.search({ [key]: text }), `${key} ${JSON.stringify(text)}`).toHaveLength(all);
      }
      expect(await storage.audit.search({ type: `${text}*` })).toEqual([]);
      expect(await storage.audit.search({ since: text, until: text })).toEqual([]);
      expect(await storage.sessions.search({ user: text })).toEqual([]);
      expect(await storage.sessions.withPrefix(text)).toEqual({ count: 0, id: undefined });
    }
    expect((await storage.audit.search({ user: "o'reilly" })).map((e) => e.seq)).toEqual([2]);
    expect((await storage.audit.search({ cluster: "c'1" })).map((e) => e.seq)).toEqual([3]);
    expect((await storage.sessions.search({ text: "'x' && rm -rf" })).map((s) => s.id)).toEqual(['abcd-1']);
    expect((await storage.sessions.search({ text: '100%' })).map((s) => s.id)).toEqual(['abcd-1']);
    expect(await storage.sessions.search({ text: '%' })).toEqual([]);
    // Nothing was dropped or changed on the way.
    expect(await storage.audit.verify()).toMatchObject({ ok: true, events: events.length });
  });

  it('finds events by words too long for the word index, and only by whole words', async () => {
    const seqs = async (text: string) => (await storage.audit.search({ text })).map((e) => e.seq);
    for (const text of [LONG_HEX, `${LONG_HEX} tail`, LONG_CJK, `${LONG_CJK} cjk`, 'w'.repeat(201), 'v'.repeat(200), `${'w'.repeat(201)} ${'v'.repeat(200)}`]) {
      expect(await seqs(text), text.slice(0, 20)).toEqual(expected(text));
      expect(expected(text)).toHaveLength(1);
    }
    for (const text of [LONG_HEX.slice(1), 'w'.repeat(200), 'v'.repeat(201), `tail ${LONG_HEX}`]) expect(await seqs(text)).toEqual([]);
  });

  it('finds exactly the phrase for any text (property)', async () => {
    const alphabet = fc.constantFrom(...'rm -f/\'\\&|!:*()%_" ;ab\u0000c1'.split(''), 'rf', 'var', 'DROP', 'reilly');
    await fc.assert(
      fc.asyncProperty(fc.array(alphabet, { maxLength: 8 }).map((parts) => parts.join('')), async (text) => {
        expect((await storage.audit.search({ text })).map((e) => e.seq)).toEqual(expected(text));
      }),
      { numRuns: 150 },
    );
  });
});

describe('storage section of ztsh.yaml', () => {
  const base = { version: 'v1', services: ['proxy', 'auth'], proxy: { public_addr: 'https://ztsh.example.com' }, auth: { cluster_name: 'c' } };
  const parse = (storage: unknown) => () => parseConfig(ZtshdConfigSchema, { ...base, storage }, 'ztsh.yaml');

  it('refuses a password inside the URL, and does not repeat it in the error', () => {
    for (const url of ['postgres://ztsh:s3cret-pw@db:5432/ztsh', 'postgresql://ztsh:s3cret-pw@db/ztsh', 'postgres://ztsh@db/ztsh?password=s3cret-pw', 'postgres://ztsh@db/ztsh?PASSWORD=s3cret-pw']) {
      let message = '';
      try {
        parse({ engine: 'postgres', url })();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, url).toMatch(/storage\.url.*must not hold a password.*password_file.*password_env/s);
      expect(message).not.toContain('s3cret-pw');
    }
  });

  it('takes the password from a file or the environment, one of them', () => {
    expect(StorageConfigSchema.parse({ engine: 'postgres', url: 'postgres://ztsh@db/ztsh', password_file: 'pg-password' })).toMatchObject({ engine: 'postgres' });
    expect(parse({ engine: 'postgres', url: 'postgres://ztsh@db/ztsh', password_file: 'f', password_env: 'E' })).toThrow(/not both/);
  });

  it('refuses other schemes, a missing URL, and postgres options on sqlite', () => {
    expect(parse({ engine: 'postgres', url: 'mysql://ztsh@db/ztsh' })).toThrow(/postgres:\/\//);
    expect(parse({ engine: 'postgres', url: 'not a url' })).toThrow(/must be a URL/);
    expect(parse({ engine: 'postgres' })).toThrow(/storage\.url.*required/s);
    expect(parse({ url: 'postgres://ztsh@db/ztsh' })).toThrow(/only for engine: postgres/);
    expect(parse({ engine: 'sqlite', password_env: 'PGPASSWORD' })).toThrow(/only for engine: postgres/);
    expect(parse({ engine: 'postgres', url: 'postgres://ztsh@db/ztsh', password: 'x' })).toThrow(/password/);
    expect(parse({ engine: 'postgres', url: 'postgres://ztsh@db/ztsh?sslmode=disable', ca_file: 'ca.pem' })).toThrow(/not both/);
    expect(parse({ engine: 'oracle' })).toThrow(/engine/);
    expect(parse({ engine: 'postgres', url: 'postgres://ztsh@db/ztsh', pool: 0 })).toThrow(/pool/);
  });
});
