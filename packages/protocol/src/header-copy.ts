// Every hop copies headers the same way: all of them but the ones a rule
// drops. The rules are named for where the headers go, so each hop says
// which it follows and the rules live in one place (kube-wire.ts holds the
// lists they draw on).
import { HOP_BY_HOP_HEADERS, isDroppedRequestHeader } from './kube-wire.ts';

/** True for a header name (lowercase, as Node gives them) that is not copied. */
export type HeaderRule = (name: string) => boolean;

/** Answers passed back, and anything between two parts of ztsh: connection-level and pseudo-headers are dropped. */
export const dropHopByHop: HeaderRule = (name) => name.startsWith(':') || HOP_BY_HOP_HEADERS.has(name);

/** A user's request towards a cluster: also any identity the client claims (isDroppedRequestHeader). */
export const dropTowardsCluster: HeaderRule = isDroppedRequestHeader;

/**
 * A user's request a proxy forwards to auth: also every x-ztsh-* header, which
 * auth believes from a proxy's connection (who the client is, where it came from).
 */
export const dropTowardsAuth: HeaderRule = (name) => dropHopByHop(name) || name.startsWith('x-ztsh-');

/**
 * The headers `drop` keeps, values as they are; absent values are left out.
 * `into`: an object to add them to (one that already holds a status or
 * pseudo-headers), so a hop copies its headers once, not once and again.
 */
export function copyHeaders<V, T extends Record<string, unknown> = Record<string, V>>(headers: Readonly<Record<string, V | undefined>>, drop: HeaderRule, into?: T): T & Record<string, V> {
  const out = (into ?? {}) as Record<string, unknown>;
  // for…in, not Object.entries: no array of pairs made per request. Node's header objects have no prototype or a plain one.
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    if (value === undefined || drop(name)) continue;
    out[name] = value;
  }
  return out as T & Record<string, V>;
}
