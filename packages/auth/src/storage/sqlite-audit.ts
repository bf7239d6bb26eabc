// The audit log in SQLite: a hash chain (each event carries the hash of the
// one before), a full-text index over what the events say, and search.
import type { Database } from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { DEFAULT_PAGE, MAX_PAGE, type AuditEvent } from '@ztsh/protocol';
import { SQLITE, SqlFilter } from './sql-filter.ts';
import type { AuditQuery, AuditVerdict, NewAuditEvent, Storage } from './storage.ts';

/** Events or sessions in a page of search results, as the API bounds them. */
export const PAGE = { fallback: DEFAULT_PAGE, max: MAX_PAGE };

type Row = Record<string, unknown>;

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted, so the hash does not depend on insertion order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashAuditEvent(prevHash: string, event: Omit<AuditEvent, 'hash'>): string {
  const { prevHash: _p, hash: _h, ...rest } = event as AuditEvent;
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(rest)).digest('hex');
}

/** The words an event can be found by: its type, user, message and every field value. */
export function auditText(event: NewAuditEvent): string {
  const words: string[] = [event.type, event.user ?? '', event.message ?? ''];
  const walk = (value: unknown) => {
    if (value == null) return;
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object') Object.values(value as Record<string, unknown>).forEach(walk);
    else words.push(String(value));
  };
  walk(event.fields);
  return words.filter(Boolean).join(' ');
}

/** A user's words as one FTS5 phrase: no query syntax leaks through. */
export function ftsPhrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

function fromRow(row: Row): AuditEvent {
  return {
    id: row.id as string,
    seq: row.seq as number,
    time: row.time as string,
    type: row.type as string,
    code: row.code as string,
    success: row.success === 1,
    ...(row.user != null ? { user: row.user as string } : {}),
    ...(row.login_id != null ? { loginId: row.login_id as string } : {}),
    ...(row.client_ip != null ? { clientIp: row.client_ip as string } : {}),
    ...(row.message != null ? { message: row.message as string } : {}),
    fields: JSON.parse(row.fields as string) as Record<string, unknown>,
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  };
}

export function sqliteAudit(db: Database): Storage['audit'] {
  const last = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(
    `INSERT INTO audit_events (seq, id, time, type, code, success, user, login_id, client_ip, message, fields, prev_hash, hash)
     VALUES (@seq, @id, @time, @type, @code, @success, @user, @loginId, @clientIp, @message, @fields, @prevHash, @hash)`,
  );
  const insertText = db.prepare('INSERT INTO audit_fts (rowid, text) VALUES (?, ?)');
  const appendAll = db.transaction((events: NewAuditEvent[]): AuditEvent[] => {
    const head = last.get() as { seq: number; hash: string } | undefined;
    let seq = head?.seq ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    return events.map((event) => {
      seq += 1;
      const unhashed: Omit<AuditEvent, 'hash'> = { ...event, id: randomUUID(), seq, prevHash };
      const full: AuditEvent = { ...unhashed, hash: hashAuditEvent(prevHash, unhashed) };
      insert.run({
        ...full,
        user: full.user ?? null,
        loginId: full.loginId ?? null,
        clientIp: full.clientIp ?? null,
        message: full.message ?? null,
        success: full.success ? 1 : 0,
        fields: JSON.stringify(full.fields),
      });
      insertText.run(seq, auditText(event));
      prevHash = full.hash;
      return full;
    });
  });

  return {
    append: async (event) => appendAll.immediate([event])[0]!,
    appendMany: async (events) => (events.length === 0 ? [] : appendAll.immediate(events)),
    list: async ({ limit = 1000, afterSeq = 0 } = {}) =>
      (db.prepare('SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[]).map(fromRow),
    search: auditSearch(db),
    verify: async () => verifyChain(db),
  };
}

/**
 * Above this many text matches, the search walks another filter's index in
 * time order and keeps the events the text matched (a common word fills a
 * page within the newest few thousand events); at or below it, it reads the
 * matches and sorts them.
 */
const MANY_TEXT_MATCHES = 10_000;

function auditSearch(db: Database): Storage['audit']['search'] {
  const countMatches = db.prepare('SELECT count(*) FROM (SELECT 1 FROM audit_fts WHERE audit_fts MATCH ? LIMIT ?)').pluck();
  const firstType = db.prepare('SELECT type FROM audit_events WHERE type >= ? AND type < ? ORDER BY type LIMIT 1').pluck();
  const nextType = db.prepare('SELECT type FROM audit_events WHERE type > ? AND type < ? ORDER BY type LIMIT 1').pluck();
  /** The distinct types under a prefix, one index seek each. */
  const typesStartingWith = (prefix: string): string[] => {
    const end = prefix + '\uffff';
    const types: string[] = [];
    for (let t = firstType.get(prefix, end) as string | undefined; t !== undefined; t = nextType.get(t, end) as string | undefined) types.push(t);
    return types;
  };

  return async (q) => {
    const filter = new SqlFilter(SQLITE).equals('e.user', q.user || undefined).equals('e.cluster', q.cluster || undefined);
    if (q.type) {
      if (q.type.endsWith('*') || q.type.endsWith('.')) {
        const prefix = q.type.replace(/\*$/, '');
        if (prefix) {
          // The few types under the prefix, by name: each is then read from the
          // (type, time) index in time order, where a range of types cannot be.
          const types = typesStartingWith(prefix);
          if (types.length === 0) return [];
          filter.oneOf('e.type', types);
        }
      } else filter.equals('e.type', q.type);
    }
    // A literal, not a parameter: only then can SQLite use the partial index of failures.
    if (q.success !== undefined) filter.where(() => (q.success ? 'e.success = 1' : 'e.success = 0'));
    filter
      .equals('e.session_id', q.sessionId || undefined)
      .atLeast('e.time', q.since || undefined)
      .below('e.time', q.until || undefined)
      .pageAfter(['e.time', 'e.seq'], q.before ? [q.before.time, q.before.seq] : undefined);
    if (q.text) {
      const phrase = ftsPhrase(q.text);
      const found = countMatches.get(phrase, MANY_TEXT_MATCHES + 1) as number;
      if (found === 0) return [];
      // A common word: "+" keeps SQLite from reading every match by seq, so it
      // walks an index in time order and tests each event against the matches.
      filter.where((p) => `${found > MANY_TEXT_MATCHES ? '+e.seq' : 'e.seq'} IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ${p(phrase)})`);
    }
    // Newest first; seq breaks ties; (time, seq) is the page cursor. The page
    // is picked by (time, seq) alone, then only its events are read whole.
    const page = `SELECT e.seq FROM audit_events e ${filter.clause} ORDER BY e.time DESC, e.seq DESC ${filter.limit(q.limit, PAGE)}`;
    const sql = `SELECT * FROM audit_events WHERE seq IN (${page}) ORDER BY time DESC, seq DESC`;
    return (db.prepare(sql).all(...filter.params) as Row[]).map(fromRow);
  };
}

function verifyChain(db: Database): AuditVerdict {
  let prev: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  let count = 0;
  for (const row of db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate() as Iterable<Row>) {
    const event = fromRow(row);
    count++;
    if (event.seq !== prev.seq + 1) {
      const missing = event.seq - prev.seq - 1 === 1 ? `event ${prev.seq + 1} is` : `events ${prev.seq + 1}–${event.seq - 1} are`;
      return { ok: false, events: count, brokenAt: event.seq, problem: `${missing} missing before event ${event.seq} (deleted)` };
    }
    if (event.prevHash !== prev.hash) {
      return { ok: false, events: count, brokenAt: event.seq, problem: `event ${event.seq} does not link to event ${prev.seq}: its prev_hash is not that event's hash (event ${prev.seq} was replaced, or this one was edited)` };
    }
    const expected = hashAuditEvent(event.prevHash, event);
    if (expected !== event.hash) {
      return { ok: false, events: count, brokenAt: event.seq, problem: `event ${event.seq} (${event.type}, id ${event.id}) does not match its hash: it was edited after it was written` };
    }
    prev = { seq: event.seq, hash: event.hash };
  }
  return { ok: true, events: count, lastSeq: prev.seq, lastHash: prev.hash };
}
