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

const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * The event with its top-level strings as UTF-8 can carry them: a lone UTF-16
 * surrogate (a JSON body can hold "\ud800") becomes U+FFFD before the hash is
 * taken, or a text column would store something other than what was hashed
 * and the event would read as edited. Fields are stored as JSON, which
 * escapes them.
 */
function wellFormed(event: NewAuditEvent): NewAuditEvent {
  const out: Record<string, unknown> = { ...event };
  for (const [key, value] of Object.entries(out)) if (typeof value === 'string') out[key] = value.replace(LONE_SURROGATE, '\uFFFD');
  return out as unknown as NewAuditEvent;
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
    const unhashed: Omit<AuditEvent, 'hash'> = { ...wellFormed(event), id: newId(), seq, prevHash };
    const full: AuditEvent = { ...unhashed, hash: hashAuditEvent(prevHash, unhashed) };
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
