// How an agent learns the proxy replicas behind the one address it dials,
// so it can hold a tunnel to each (docs/architecture.md, "How agents reach
// every replica"):
//
//   agent ──wss /v1/tunnel, x-ztsh-replicas-held: r1,r2──▶ load balancer ──▶ replica r3
//   agent ◀── 101 x-ztsh-replica-id: r3, x-ztsh-replicas: r1,r2,r3 ──────────┘
//         ◀── 409 x-ztsh-replica-id: r1 (it holds r1 already: dial again)
//   later, on the tunnel (proxy → agent, answered by the agent itself):
//         POST /.ztsh/replicas  x-ztsh-control: replicas, x-ztsh-replica-id, x-ztsh-replicas
//
// Every value is checked here, once, by both ends: an id is a short
// DNS-label-like word, a set is a comma-separated list of at most
// MAX_REPLICAS distinct ids.

/** One replica's id: lowercase letters, digits, "." and "-", starting with a letter or digit. */
export const REPLICA_ID = /^[a-z0-9][a-z0-9.-]{0,62}$/;

/** The most replicas one set may name: far beyond any deployment, and it bounds the headers. */
export const MAX_REPLICAS = 64;

/** The longest replica-set header value a list of MAX_REPLICAS ids can make. */
export const MAX_REPLICA_LIST_CHARS = MAX_REPLICAS * 64;

/** The control request's path and its x-ztsh-control value. */
export const REPLICAS_CONTROL = { path: '/.ztsh/replicas', value: 'replicas' } as const;

export function isReplicaId(value: unknown): value is string {
  return typeof value === 'string' && REPLICA_ID.test(value);
}

/** A header value for a set of ids (checked: a bad id here is a bug of the sender). */
export function formatReplicaList(ids: readonly string[]): string {
  if (ids.length > MAX_REPLICAS) throw new Error(`a replica set names at most ${MAX_REPLICAS} replicas, not ${ids.length}`);
  for (const id of ids) if (!isReplicaId(id)) throw new Error(`not a replica id: ${JSON.stringify(id)}`);
  return ids.join(',');
}

/**
 * Reads a replica-list header: the ids, [] when absent or empty, or
 * undefined when it is anything else (repeated, too long, a bad or repeated
 * id, too many). `allowEmpty`: whether a present but empty value is [].
 */
export function parseReplicaList(header: string | string[] | undefined, allowEmpty: boolean): string[] | undefined {
  if (header === undefined) return allowEmpty ? [] : undefined;
  if (typeof header !== 'string' || header.length > MAX_REPLICA_LIST_CHARS) return undefined;
  if (header === '') return allowEmpty ? [] : undefined;
  const ids = header.split(',');
  if (ids.length > MAX_REPLICAS) return undefined;
  if (!ids.every(isReplicaId)) return undefined;
  if (new Set(ids).size !== ids.length) return undefined;
  return ids;
}

/** An announcement from one replica: its own id and the set it reads from the store, itself among them. */
export interface ReplicaAnnouncement {
  self: string;
  replicas: string[];
}

/** Reads the two headers of an announcement; undefined unless both are well formed and the set names the sender. */
export function readReplicaAnnouncement(selfHeader: string | string[] | undefined, setHeader: string | string[] | undefined): ReplicaAnnouncement | undefined {
  if (!isReplicaId(selfHeader)) return undefined;
  const replicas = parseReplicaList(setHeader, false);
  if (!replicas || !replicas.includes(selfHeader)) return undefined;
  return { self: selfHeader, replicas };
}
