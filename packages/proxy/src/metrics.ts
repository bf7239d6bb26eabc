// The proxy's Prometheus metrics. The kube front door counts each request
// where its outcome is audited (kube-access.ts), sessions count where they
// start and end, lock terminations where LiveStreams ends a stream.
//
// Every label value is bounded whatever a client sends: clusters are the
// ones agents have joined as (admin-issued tokens), anything else is
// "_unknown"; verbs come from the fixed set the request parser yields; codes
// are HTTP status numbers; session kinds are four. An attacker asking for
// random paths or clusters adds no series.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AgentTunnels } from './agent-tunnels.ts';

/** Label of a cluster no agent has joined as (the names of real ones cannot contain "_"). */
export const UNKNOWN_CLUSTER = '_unknown';
/** Label of clusters beyond MAX_CLUSTER_LABELS: a defence should joins ever run away. */
export const OTHER_CLUSTER = '_other';
export const MAX_CLUSTER_LABELS = 1000;

/** What kube-request-info.ts yields: the resource verbs, and the methods of non-resource paths. */
export const KUBE_VERBS: ReadonlySet<string> = new Set([
  'get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection',
  'exec', 'attach', 'portforward', 'proxy',
  'post', 'put', 'head',
]);
export const SESSION_KINDS: ReadonlySet<string> = new Set(['exec', 'attach', 'cp', 'portforward']);

export interface ProxyMetrics {
  /** A kube request's outcome: `verb` undefined when it was refused before it could be read. */
  kubeRequest(cluster: string | undefined, verb: string | undefined, code: number, seconds: number): void;
  /** A session began relaying; call what it returns once when it ends. */
  sessionStarted(kind: string, cluster: string): () => void;
  /** A live stream (watch, log, session) ended by a lock. */
  lockTermination(): void;
  /** The audit outbox could not hand a batch to auth (run apart). */
  auditWriteError(): void;
  /** The tunnels the proxy keeps: tunnels online, and which cluster names are real. */
  observeTunnels(tunnels: AgentTunnels): void;
}

export interface ProxyMetricsOptions {
  /**
   * Events waiting in the proxy's own audit outbox, when it runs apart from
   * auth. In one process auth owns the audit queue and its metrics: leave it out.
   */
  auditPending?: () => number;
}

export function createProxyMetrics(registry: Registry, options: ProxyMetricsOptions = {}): ProxyMetrics {
  let tunnels: AgentTunnels | undefined;
  const seenClusters = new Set<string>();
  const clusterLabel = (cluster: string | undefined): string => {
    if (cluster === undefined || !tunnels?.known(cluster)) return UNKNOWN_CLUSTER;
    if (seenClusters.has(cluster)) return cluster;
    if (seenClusters.size >= MAX_CLUSTER_LABELS) return OTHER_CLUSTER;
    seenClusters.add(cluster);
    return cluster;
  };
  const verbLabel = (verb: string | undefined) => (verb === undefined ? 'unknown' : KUBE_VERBS.has(verb) ? verb : 'other');
  const codeLabel = (code: number) => (Number.isInteger(code) && code >= 100 && code <= 599 ? String(code) : 'other');
  const kindLabel = (kind: string) => (SESSION_KINDS.has(kind) ? kind : 'other');

  const requests = new Counter({
    name: 'ztsh_kube_requests_total',
    help: 'Kubernetes requests through the proxy, by cluster, verb and the HTTP code answered (refusals included)',
    labelNames: ['cluster', 'verb', 'code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ztsh_kube_request_duration_seconds',
    help: 'Time from a Kubernetes request reaching the proxy to its answer (for streams: to the answer headers)',
    labelNames: ['cluster', 'verb'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const started = new Counter({
    name: 'ztsh_sessions_started_total',
    help: 'exec, attach, cp and port-forward sessions started, by cluster and kind',
    labelNames: ['cluster', 'kind'] as const,
    registers: [registry],
  });
  const active = new Gauge({
    name: 'ztsh_sessions_active',
    help: 'Sessions relayed now, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of SESSION_KINDS) active.set({ kind }, 0);
  const lockEnds = new Counter({
    name: 'ztsh_lock_terminations_total',
    help: 'Live streams (sessions, watches, followed logs) ended by a lock',
    registers: [registry],
  });
  new Gauge({
    name: 'ztsh_tunnels_online',
    help: 'Agent tunnels held by this proxy, by cluster: 1 online, 0 known but offline',
    labelNames: ['cluster'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of tunnels?.list() ?? []) this.set({ cluster: clusterLabel(c.name) }, c.online ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ztsh_cluster_info',
    help: 'Clusters known to this proxy, with the env label their agent announced (for alerts on production clusters)',
    labelNames: ['cluster', 'env'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of tunnels?.list() ?? []) this.set({ cluster: clusterLabel(c.name), env: String(c.labels.env ?? '').slice(0, 63) }, 1);
    },
  });
  let auditErrors: Counter | undefined;
  if (options.auditPending) {
    const pending = options.auditPending;
    new Gauge({
      name: 'ztsh_audit_queue_depth',
      help: 'Audit events waiting to be written',
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
    auditErrors = new Counter({ name: 'ztsh_audit_write_errors_total', help: 'Failed attempts to write audit events (they are kept and tried again)', registers: [registry] });
  }

  return {
    kubeRequest(cluster, verb, code, seconds) {
      const c = clusterLabel(cluster);
      const v = verbLabel(verb);
      requests.inc({ cluster: c, verb: v, code: codeLabel(code) });
      if (Number.isFinite(seconds) && seconds >= 0) latency.observe({ cluster: c, verb: v }, seconds);
    },
    sessionStarted(kind, cluster) {
      const k = kindLabel(kind);
      started.inc({ cluster: clusterLabel(cluster), kind: k });
      active.inc({ kind: k });
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        active.dec({ kind: k });
      };
    },
    lockTermination: () => lockEnds.inc(),
    auditWriteError: () => auditErrors?.inc(),
    observeTunnels(t) {
      tunnels = t;
    },
  };
}
