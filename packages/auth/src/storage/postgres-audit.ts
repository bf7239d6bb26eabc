// The audit log in PostgreSQL: one hash chain however many replicas append.
// An append locks the chain head row (SELECT ... FOR UPDATE), links its events
// after it and moves it, all in one transaction: writers on every replica
// queue on that lock, so seq has no gaps and every prev_hash is the hash of
// the event before.
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '@ztsh/protocol';
import type pg from 'pg';
import { auditText, chainEvents, chainVerifier } from './audit-chain.ts';
import { inTransaction, queryable, type Row } from './postgres-pool.ts';
import { indexedWords, phrasePattern, searchDocument, searchWords } from './search-words.ts';
import { PAGE } from './sqlite-audit.ts';
import { POSTGRES, SqlFilter } from './sql-filter.ts';
import type { AuditQuery, NewAuditEvent, Storage } from './storage.ts';

/** Events read per round trip while verifying. */
const VERIFY_PAGE = 1000;

/** The cluster or session id an event's fields name, as SQLite's json_extract into a TEXT column gives it. */
function fieldText(value: unknown): string | null {
  if (value == null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

function fromRow(row: Row): AuditEvent {
  // The column is what the chain orders by: an event whose seq was edited shows as a gap.
  return { ...(JSON.parse(row.event as string) as AuditEvent), seq: row.seq as number };
}

export function postgresAudit(pool: pg.Pool): Storage['audit'] {
  const db = queryable(pool);
  const appendAll = (events: NewAuditEvent[]): Promise<AuditEvent[]> =>
    inTransaction(pool, async (tx) => {
      const head = (await tx.query('SELECT seq, hash FROM audit_head FOR UPDATE')).rows[0] as { seq: number; hash: string } | undefined;
      if (!head) throw new Error('the audit chain head row is missing: the database was not migrated by ztshd');
      const chained = chainEvents(head, events, randomUUID);
      // One statement for any number of events: columns travel as arrays.
      await tx.query(
        // The words travel one string an event (an array of arrays would have to be rectangular).
        `INSERT INTO audit_events (seq, id, time, type, success, user_name, cluster, session_id, event, search, words)
         SELECT seq, id, time, type, success, user_name, cluster, session_id, event, search, string_to_array(words, ' ')
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
           AS e (seq, id, time, type, success, user_name, cluster, session_id, event, search, words)`,
        [
          chained.map((e) => e.seq),
          chained.map((e) => e.id),
          chained.map((e) => e.time),
          chained.map((e) => e.type),
          chained.map((e) => e.success),
          chained.map((e) => e.user ?? null),
          chained.map((e) => fieldText(e.fields.cluster)),
          chained.map((e) => fieldText(e.fields.sessionId)),
          chained.map((e) => JSON.stringify(e)),
          events.map((e) => searchDocument(auditText(e))),
          events.map((e) => indexedWords(auditText(e)).join(' ')),
        ].map(withoutNul),
      );
      const last = chained[chained.length - 1]!;
      await tx.query('UPDATE audit_head SET seq = $1, hash = $2', [last.seq, last.hash]);
      return chained;
    });

  return {
    append: async (event) => (await appendAll([event]))[0]!,
    appendMany: async (events) => (events.length === 0 ? [] : appendAll(events)),
    list: async ({ limit = 1000, afterSeq = 0 } = {}) =>
      (await db.query('SELECT seq, event FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit])).rows.map(fromRow),
    search: async (q) => searchAudit(db, q),
    verify: async () => {
      const verifier = chainVerifier();
      for (let after = 0; ; ) {
        const { rows } = await db.query('SELECT seq, event FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2', [after, VERIFY_PAGE]);
        for (const row of rows) {
          const broken = verifier.next(fromRow(row));
          if (broken) return broken;
        }
        if (rows.length < VERIFY_PAGE) return verifier.done();
        after = rows[rows.length - 1]!.seq as number;
      }
    },
  };
}

/** Array parameters are not reached by the pool's NUL guard: the filter columns get the same treatment here. */
function withoutNul(values: unknown[]): unknown[] {
  return values.map((v) => (typeof v === 'string' && v.includes('\0') ? v.replaceAll('\0', '\uFFFD') : v));
}

async function searchAudit(db: ReturnType<typeof queryable>, q: AuditQuery): Promise<AuditEvent[]> {
  if (!q.accessRequest) return searchPage(db, q);
  // The exact test runs here, not in SQL: PostgreSQL's json and jsonb refuse
  // escapes a hostile event may hold (\u0000, a lone surrogate), and one such
  // event among the candidates would fail the whole search. The word index
  // keeps the candidates to the events that mention the id.
  const id = q.accessRequest;
  const limit = Math.min(Math.max(q.limit ?? PAGE.fallback, 1), PAGE.max);
  const found: AuditEvent[] = [];
  for (let before = q.before; ; ) {
    const page = await searchPage(db, { ...q, limit: PAGE.max, before });
    found.push(...page.filter((e) => underAccessRequest(e, id)));
    const last = page[page.length - 1];
    if (found.length >= limit || !last || page.length < PAGE.max) return found.slice(0, limit);
    before = { time: last.time, seq: last.seq };
  }
}

/** An access request's own step, or an event of what was done under it. */
function underAccessRequest(event: AuditEvent, id: string): boolean {
  const { accessRequest, accessRequests } = event.fields as { accessRequest?: unknown; accessRequests?: unknown };
  return accessRequest === id || (Array.isArray(accessRequests) && accessRequests.includes(id));
}

async function searchPage(db: ReturnType<typeof queryable>, q: AuditQuery): Promise<AuditEvent[]> {
  const filter = new SqlFilter(POSTGRES).equals('e.user_name', q.user || undefined).equals('e.cluster', q.cluster || undefined);
  if (q.type) {
    if (q.type.endsWith('*') || q.type.endsWith('.')) {
      const prefix = q.type.replace(/\*$/, '');
      // The same range as SQLite's, in the same byte order (the column is COLLATE "C").
      if (prefix) filter.atLeast('e.type', prefix).below('e.type', prefix + '\uffff');
    } else filter.equals('e.type', q.type);
  }
  if (q.success !== undefined) filter.where(() => (q.success ? 'e.success' : 'NOT e.success'));
  filter
    .equals('e.session_id', q.sessionId || undefined)
    .atLeast('e.time', q.since || undefined)
    .below('e.time', q.until || undefined)
    .pageAfter(['e.time', 'e.seq'], q.before ? [q.before.time, q.before.seq] : undefined);
  if (q.text) {
    const pattern = phrasePattern(q.text);
    // No words (only punctuation): FTS5 matches nothing either.
    if (pattern === undefined) return [];
    // The word index (migration 2) finds the events with every word. One
    // indexed word is the whole phrase: LIKE would only test it again and
    // make the planner count the same condition twice. Otherwise LIKE
    // checks the words are in a row.
    const words = searchWords(q.text);
    const indexed = indexedWords(q.text);
    if (indexed.length) filter.where((p) => `e.words @> ${p(indexed)}::text[]`);
    if (words.length > 1 || indexed.length === 0) filter.where((p) => `e.search LIKE ${p(pattern)}`);
  }
  if (q.accessRequest) {
    // Events that mention the id's words (usually just the request's own): the exact test is underAccessRequest's.
    const words = indexedWords(q.accessRequest);
    if (words.length) filter.where((p) => `e.words @> ${p(words)}::text[]`);
  }
  const sql = `SELECT e.seq, e.event FROM audit_events e ${filter.clause} ORDER BY e.time DESC, e.seq DESC ${filter.limit(q.limit, PAGE)}`;
  return (await db.query(sql, filter.params)).rows.map(fromRow);
}

