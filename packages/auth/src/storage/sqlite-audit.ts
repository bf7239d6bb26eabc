// The audit log in SQLite: a hash chain (each event carries the hash of the
// one before), a full-text index over what the events say, and search.
import type { Database } from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { DEFAULT_PAGE, MAX_PAGE, type AuditEvent } from '@ztsh/protocol';
import { auditText, chainEvents, chainVerifier } from './audit-chain.ts';
import { searchWords } from './search-words.ts';
import { SQLITE, SqlFilter } from './sql-filter.ts';
import type { AuditDurability, AuditQuery, AuditVerdict, NewAuditEvent, Storage } from './storage.ts';

/** Events or sessions in a page of search results, as the API bounds them. */
export const PAGE = { fallback: DEFAULT_PAGE, max: MAX_PAGE };

type Row = Record<string, unknown>;

// The chain is computed in audit-chain.ts, shared with the PostgreSQL engine.
export { auditText, canonicalJson, GENESIS_HASH, hashAuditEvent } from './audit-chain.ts';

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

/**
 * Syncs the WAL file to disk (fdatasync on Node's thread pool), as
 * synchronous=FULL would at a commit (sqlite.ts).
 */
export interface WalSync {
  (): Promise<void>;
}

/** After a commit left `written`, the WAL is synced this much later (one sync covers every commit before it). */
export const WAL_SYNC_DELAY_MS = 100;
/** After a failed sync, the next try: what waits for it waits on. */
const SYNC_RETRY_MS = 1000;

/**
 * With `syncWal`, appends never block the event loop on the disk: each
 * transaction is committed with synchronous=NORMAL (its WAL frames written
 * to the file, not synced), which a crash of this process cannot undo.
 * A `synced` append then resolves once `syncWal` has run after the commit:
 * what FULL does in WAL mode, with the sync on the thread pool, not on the
 * thread that serves requests. A `written` append resolves at once and the
 * WAL is synced within WAL_SYNC_DELAY_MS. A power loss can lose only the
 * last `written` events; the WAL's checksums end the chain cleanly before
 * them. Without `syncWal` (an in-memory database) the commit is all.
 */
export function sqliteAudit(db: Database, syncWal?: WalSync): Storage['audit'] & { settled(): Promise<void> } {
  const last = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(
    `INSERT INTO audit_events (seq, id, time, type, code, success, user, login_id, client_ip, message, fields, prev_hash, hash)
     VALUES (@seq, @id, @time, @type, @code, @success, @user, @loginId, @clientIp, @message, @fields, @prevHash, @hash)`,
  );
  const insertText = db.prepare('INSERT INTO audit_fts (rowid, text) VALUES (?, ?)');
  const appendAll = db.transaction((events: NewAuditEvent[]): AuditEvent[] => {
    const head = last.get() as { seq: number; hash: string } | undefined;
    return chainEvents(head, events, randomUUID).map((full, i) => {
      insert.run({
        ...full,
        user: full.user ?? null,
        loginId: full.loginId ?? null,
        clientIp: full.clientIp ?? null,
        message: full.message ?? null,
        success: full.success ? 1 : 0,
        fields: JSON.stringify(full.fields),
      });
      insertText.run(full.seq, auditText(events[i]!));
      return full;
    });
  });

  /** The last sync asked for: syncs run one after another, and each covers every commit before it started. */
  let syncs: Promise<void> = Promise.resolve();
  /** A delayed sync for `written` commits, set while any is not yet covered by a sync. */
  let due: NodeJS.Timeout | undefined;
  const syncOnce = async (): Promise<void> => {
    for (;;) {
      try {
        return await syncWal!();
      } catch {
        // The events are committed: writing them again would chain them
        // twice. The sync is tried until it holds.
        await new Promise((r) => setTimeout(r, SYNC_RETRY_MS));
      }
    }
  };
  const syncAfterCommits = (): Promise<void> => {
    if (due) clearTimeout(due);
    due = undefined;
    return (syncs = syncs.then(syncOnce));
  };
  const append = async (events: NewAuditEvent[], durability: AuditDurability = 'synced'): Promise<AuditEvent[]> => {
    if (events.length === 0) return [];
    if (!syncWal) return appendAll.immediate(events);
    let written: AuditEvent[];
    // db.pragma() each time, not a statement prepared once: SQLite applies this
    // pragma when its statement is compiled, so running a prepared one again may not switch it.
    db.pragma('synchronous = NORMAL');
    try {
      written = appendAll.immediate(events);
    } finally {
      db.pragma('synchronous = FULL');
    }
    if (durability === 'synced') await syncAfterCommits();
    else due ??= setTimeout(() => void syncAfterCommits(), WAL_SYNC_DELAY_MS).unref();
    return written;
  };

  return {
    append: async (event) => (await append([event]))[0]!,
    appendMany: append,
    /** Syncs what is still only written, and waits for every sync under way (at close). */
    settled: async () => {
      if (due) void syncAfterCommits();
      await syncs;
    },
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
    if (q.accessRequest) byAccessRequest(filter, q.accessRequest);
    // Newest first; seq breaks ties; (time, seq) is the page cursor. The page
    // is picked by (time, seq) alone, then only its events are read whole.
    const page = `SELECT e.seq FROM audit_events e ${filter.clause} ORDER BY e.time DESC, e.seq DESC ${filter.limit(q.limit, PAGE)}`;
    const sql = `SELECT * FROM audit_events WHERE seq IN (${page}) ORDER BY time DESC, seq DESC`;
    return (db.prepare(sql).all(...filter.params) as Row[]).map(fromRow);
  };
}

/**
 * The events of one access request: its own steps (fields.accessRequest) and
 * what was done under it (fields.accessRequests holds it). The text index
 * holds every field value, so it narrows the events to those that mention
 * the id's words; the JSON test then keeps only the exact matches (the index
 * folds case, and an id quoted in a reason is not a use of it).
 */
function byAccessRequest(filter: SqlFilter, id: string): void {
  if (searchWords(id).length) filter.where((p) => `e.seq IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ${p(ftsPhrase(id))})`);
  filter.where(
    (p) =>
      `(json_extract(e.fields, '$.accessRequest') = ${p(id)} OR (json_type(e.fields, '$.accessRequests') = 'array' AND EXISTS (SELECT 1 FROM json_each(e.fields, '$.accessRequests') WHERE type = 'text' AND value = ${p(id)})))`,
  );
}

function verifyChain(db: Database): AuditVerdict {
  const verifier = chainVerifier();
  for (const row of db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate() as Iterable<Row>) {
    const broken = verifier.next(fromRow(row));
    if (broken) return broken;
  }
  return verifier.done();
}
