// This proxy replica's id and the live replica set it announces to agents.
// The set comes from whoever reads the store's heartbeat table (ztshd's
// replica-heartbeat.ts): the proxy never opens the store itself. With one
// replica, or a proxy run apart from auth, the set is just this replica.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isReplicaId, MAX_REPLICAS } from '@ztsh/protocol';

export interface ReplicaSet {
  readonly self: string;
  /** Sorted, this replica always among them. */
  current(): readonly string[];
  /** Called with the new set whenever it changes. */
  subscribe(listener: (ids: readonly string[]) => void): () => void;
}

export interface UpdatableReplicaSet extends ReplicaSet {
  /** The ids the store says are live now; ids that are no replica id are left out. */
  update(ids: readonly string[]): void;
}

/**
 * A replica id made at each start: the host name (a pod's name, for the
 * operator reading logs) and 32 random bits, so two replicas never share one
 * even when they share a host name or a copied data dir.
 */
export function newReplicaId(host: string = hostname(), random: () => Buffer = () => randomBytes(4)): string {
  const name = host.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 54).replace(/[.-]+$/, '');
  const id = `${name || 'ztshd'}-${random().toString('hex')}`;
  if (!isReplicaId(id)) throw new Error(`could not make a replica id of host name ${JSON.stringify(host)}`);
  return id;
}

export function replicaSet(self: string): UpdatableReplicaSet {
  if (!isReplicaId(self)) throw new Error(`not a replica id: ${JSON.stringify(self)}`);
  let ids: readonly string[] = [self];
  const listeners = new Set<(ids: readonly string[]) => void>();
  return {
    self,
    current: () => ids,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    update(live) {
      // This replica serves, whatever its last heartbeat says; the others in a stable order, at most MAX_REPLICAS in all.
      const others = [...new Set(live)].filter((id) => id !== self && isReplicaId(id)).sort().slice(0, MAX_REPLICAS - 1);
      const next = [self, ...others].sort();
      if (next.join(',') === ids.join(',')) return;
      ids = next;
      for (const listener of listeners) listener(ids);
    },
  };
}
