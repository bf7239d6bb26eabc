// The audit hash chain as every engine computes it: one canonical encoding
// of an event, one hash, one genesis link, and the words search finds an
// event by. SQLite and PostgreSQL import these, so a chain written by one
// verifies the same way on the other.
import { createHash } from 'node:crypto';
import type { AuditEvent } from '@ztsh/protocol';
import type { AuditVerdict, NewAuditEvent } from './storage.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted, so the hash does not depend on insertion order. */
export function canonicalJson(value: unknown): string {
  return canonicalJsonExcept(value);
}

/**
 * canonicalJson, leaving out the named keys of the top-level object. Keys
 * are sorted by UTF-16 code units (Array.prototype.sort's order) and keys
 * whose value is undefined are left out, as JSON.stringify does.
 */
function canonicalJsonExcept(value: unknown, skip?: ReadonlySet<string>): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJsonExcept(value[i]);
    return out + ']';
  }
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    let out = '{';
    for (const key of Object.keys(object).sort()) {
      const v = object[key];
      if (v === undefined || skip?.has(key)) continue;
      out += (out.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + canonicalJsonExcept(v);
    }
    return out + '}';
  }
  return JSON.stringify(value);
}

/** What an event's hash leaves out: the hashes themselves. */
const NOT_HASHED: ReadonlySet<string> = new Set(['prevHash', 'hash']);

export function hashAuditEvent(prevHash: string, event: Omit<AuditEvent, 'hash'>): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJsonExcept(event, NOT_HASHED)).digest('hex');
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

const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * A string as UTF-8 can carry it: a lone UTF-16 surrogate (a JSON body can
 * hold "\ud800") becomes U+FFFD before the hash is taken, or a text column
 * would store something other than what was hashed and the event would
 * read as edited. Fields are stored as JSON, which escapes them.
 */
function wellFormed<T extends string | undefined>(text: T): T {
  return (text === undefined || (text as string & { isWellFormed(): boolean }).isWellFormed() ? text : text.replace(LONE_SURROGATE, '\uFFFD')) as T;
}

/**
 * The stored event: the columns an event has, each top-level string well
 * formed, in one fixed order and shape (built field by field: an object
 * spread here cost more than the hash). Keys an event does not have stay
 * out; keys no column stores are never hashed.
 */
function link(event: NewAuditEvent, id: string, seq: number, prevHash: string): AuditEvent {
  const full = { time: wellFormed(event.time), type: wellFormed(event.type), code: wellFormed(event.code), success: event.success } as AuditEvent;
  if (event.user !== undefined) full.user = wellFormed(event.user);
  if (event.loginId !== undefined) full.loginId = wellFormed(event.loginId);
  if (event.clientIp !== undefined) full.clientIp = wellFormed(event.clientIp);
  if (event.message !== undefined) full.message = wellFormed(event.message);
  full.fields = event.fields;
  full.id = id;
  full.seq = seq;
  full.prevHash = prevHash;
  full.hash = hashAuditEvent(prevHash, full);
  return full;
}

/**
 * The next links of the chain after `head`: each event gets an id, the next
 * seq, the hash of the one before and its own hash. The caller holds the
 * chain (a transaction, a lock) from reading `head` until these are stored.
 */
export function chainEvents(
  head: { seq: number; hash: string } | undefined,
  events: readonly NewAuditEvent[],
  newId: () => string,
): AuditEvent[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    seq += 1;
    const full = link(event, newId(), seq, prevHash);
    prevHash = full.hash;
    return full;
  });
}

/**
 * Walks events in seq order from the genesis, fed one at a time (an engine
 * may read the chain in pages); names the first whose hash or link does not
 * hold.
 */
export function chainVerifier(): {
  /** A broken-chain verdict at the first event that breaks it; undefined while it holds. */
  next(event: AuditEvent): AuditVerdict | undefined;
  /** The verdict once every event was fed. */
  done(): AuditVerdict;
} {
  let prev: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  let count = 0;
  return {
    next(event) {
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
      return undefined;
    },
    done: () => ({ ok: true, events: count, lastSeq: prev.seq, lastHash: prev.hash }),
  };
}
