// Which tunnels the agent should hold: one to each replica in the set the
// proxy replicas announced last. Dials go through the one load-balanced
// address and land on any replica, so the agent can only ask for "another
// tunnel" and learn where it landed; this decides whether to ask, and
// which held tunnels to let go.

/** The id the agent gives a tunnel to a proxy that names no replica (a ztshd from before replicas): never sent to a proxy. */
export const UNNAMED_REPLICA = '(unnamed)';

export interface TunnelPlan {
  /** Open one more tunnel. */
  dial: boolean;
  /** Held tunnels to replicas that left the set: close them. */
  drop: string[];
}

/**
 * `held`: the replicas the agent has a tunnel to; `wanted`: the last set
 * announced, undefined until the first tunnel is up. A tunnel is dropped
 * only while the agent holds another one to a replica in the set, so a set
 * that names none of the held replicas never leaves it with no tunnel at all.
 */
export function planTunnels(held: readonly string[], wanted: readonly string[] | undefined): TunnelPlan {
  if (!wanted) return { dial: held.length === 0, drop: [] };
  const want = new Set(wanted);
  const kept = held.filter((id) => want.has(id));
  const drop = kept.length > 0 ? held.filter((id) => !want.has(id)) : [];
  const missing = wanted.some((id) => !held.includes(id));
  return { dial: missing || held.length === 0, drop };
}

/** Full jitter over an exponential backoff: a fleet of agents does not redial in step after a proxy restart. */
export function backoffDelay(attempt: number, backoff: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  return random() * Math.min(backoff.maxMs, backoff.baseMs * 2 ** attempt);
}

/**
 * The pause before dialing again after landing on a replica already held
 * (409): short, so the agent soon reaches the others, growing gently in
 * case the load balancer keeps sending it to the same one, and jittered
 * between half and all of it so agents do not dial in step.
 */
export function redialDelay(duplicates: number, redial: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  return (0.5 + random() / 2) * Math.min(redial.maxMs, redial.baseMs * 1.5 ** duplicates);
}
