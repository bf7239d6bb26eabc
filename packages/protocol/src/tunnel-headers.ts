// The headers the proxy and the agent say things to each other in, on the
// tunnel. The proxy sets them, the agent reads them (and the other way round
// for the answers); neither ever takes one from a user's request: every
// x-ztsh-* header a client sends is dropped (isDroppedRequestHeader).
import { z } from 'zod';

export const TUNNEL_HEADERS = {
  /** proxy → agent: the Kubernetes user the request is made as (Impersonate-User upstream). */
  impersonateUser: 'x-ztsh-impersonate-user',
  /** proxy → agent: the groups, as a JSON array of strings (Impersonate-Group upstream, one per group). */
  impersonateGroups: 'x-ztsh-impersonate-groups',
  /** proxy → agent: make this request a connection upgrade ("websocket" or "SPDY/3.1"). */
  upgrade: 'x-ztsh-upgrade',
  /** agent → proxy: the apiserver's status for an upgrade (the stream itself answers 200). */
  upstreamStatus: 'x-ztsh-upstream-status',
  /** agent → proxy, on the tunnel's WebSocket upgrade: the cluster's labels as a JSON object. */
  labels: 'x-ztsh-labels',
  /** agent → proxy, on the tunnel's WebSocket upgrade: the replica ids it holds tunnels to (tunnel-replicas.ts). */
  replicasHeld: 'x-ztsh-replicas-held',
  /** proxy → agent: the replica's id, on the upgrade's answer (101 or 409) and on a replica-set announcement. */
  replicaId: 'x-ztsh-replica-id',
  /** proxy → agent: the live replica set, comma-separated, on the upgrade's 101 and on an announcement. */
  replicas: 'x-ztsh-replicas',
  /** proxy → agent: this stream is for the agent itself ("replicas"), never for the apiserver. */
  control: 'x-ztsh-control',
} as const;
export type TunnelHeader = (typeof TUNNEL_HEADERS)[keyof typeof TUNNEL_HEADERS];

/** What x-ztsh-impersonate-groups carries. */
export const ImpersonatedGroups = z.array(z.string());
/** What x-ztsh-labels carries: label names and values as Kubernetes bounds them. */
export const ClusterLabels = z.record(z.string().max(63), z.string().max(63));

/** A header value for one of the JSON-carrying headers above. */
export function jsonHeader<T>(schema: z.ZodType<T>, value: T): string {
  return JSON.stringify(schema.parse(value));
}

/**
 * Reads a JSON-carrying header: the parsed value, `fallback` when the header
 * is absent, or undefined when it is there but is not what the schema says
 * (repeated, not JSON, the wrong shape).
 */
export function readJsonHeader<T>(schema: z.ZodType<T>, header: string | string[] | undefined, fallback: T): T | undefined {
  if (header === undefined) return fallback;
  if (typeof header !== 'string') return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(header));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
