import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AgentTunnels, type AgentTunnel } from './agent-tunnels.ts';
import { createProxyMetrics, MAX_CLUSTER_LABELS, OTHER_CLUSTER, UNKNOWN_CLUSTER } from './metrics.ts';

function tunnel(cluster: string, labels: Record<string, string> = {}): AgentTunnel {
  return { cluster, hostId: `h-${cluster}`, labels, connectedAt: new Date(), close: () => undefined, get session(): never { throw new Error('no session in this test'); } };
}

function setup(options: Parameters<typeof createProxyMetrics>[1] = {}) {
  const registry = new Registry();
  const metrics = createProxyMetrics(registry, options);
  const tunnels = new AgentTunnels();
  metrics.observeTunnels(tunnels);
  // A histogram's samples sit in one family under their own names (_bucket, _count, _sum).
  const values = async (name: string) =>
    (await registry.getMetricsAsJSON()).flatMap((m) => (m.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]).filter((v) => (v.metricName ?? m.name) === name));
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await values(name)).find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))?.value;
  return { registry, metrics, tunnels, values, value };
}

describe('proxy metrics', () => {
  it('labels a kube request with its cluster, verb and code, and observes its latency', async () => {
    const { metrics, tunnels, value } = setup();
    tunnels.add(tunnel('prod'));
    metrics.kubeRequest('prod', 'list', 200, 0.02);
    metrics.kubeRequest('prod', 'list', 200, 0.5);
    metrics.kubeRequest('prod', 'get', 403, 0.001);
    expect(await value('ztsh_kube_requests_total', { cluster: 'prod', verb: 'list', code: '200' })).toBe(2);
    expect(await value('ztsh_kube_requests_total', { cluster: 'prod', verb: 'get', code: '403' })).toBe(1);
    expect(await value('ztsh_kube_request_duration_seconds_count', { cluster: 'prod', verb: 'list' })).toBe(2);
    expect(await value('ztsh_kube_request_duration_seconds_bucket', { cluster: 'prod', verb: 'list', le: '0.025' })).toBe(1);
  });

  it('maps what a client chose to fixed labels: unknown clusters, verbs and codes', async () => {
    const { metrics, values } = setup();
    metrics.kubeRequest('no-such-cluster', 'list', 403, 0);
    metrics.kubeRequest(undefined, undefined, 401, 0);
    metrics.kubeRequest('__proto__', 'FROBNICATE', 99999, Number.NaN);
    const seen = (await values('ztsh_kube_requests_total')).map((v) => v.labels);
    expect(seen).toEqual([
      { cluster: UNKNOWN_CLUSTER, verb: 'list', code: '403' },
      { cluster: UNKNOWN_CLUSTER, verb: 'unknown', code: '401' },
      { cluster: UNKNOWN_CLUSTER, verb: 'other', code: 'other' },
    ]);
  });

  it('stops adding cluster labels past MAX_CLUSTER_LABELS', async () => {
    const { metrics, tunnels, values } = setup();
    for (let i = 0; i <= MAX_CLUSTER_LABELS; i++) tunnels.add(tunnel(`c${i}`));
    for (let i = 0; i <= MAX_CLUSTER_LABELS; i++) metrics.kubeRequest(`c${i}`, 'get', 200, 0);
    const clusters = new Set((await values('ztsh_kube_requests_total')).map((v) => v.labels.cluster));
    expect(clusters.size).toBe(MAX_CLUSTER_LABELS + 1);
    expect(clusters.has(OTHER_CLUSTER)).toBe(true);
  });

  it('counts sessions started by cluster and kind; the active gauge goes back down once, however often the end is told', async () => {
    const { metrics, tunnels, value } = setup();
    tunnels.add(tunnel('prod'));
    const ended = metrics.sessionStarted('exec', 'prod');
    metrics.sessionStarted('portforward', 'prod');
    expect(await value('ztsh_sessions_started_total', { cluster: 'prod', kind: 'exec' })).toBe(1);
    expect(await value('ztsh_sessions_active', { kind: 'exec' })).toBe(1);
    expect(await value('ztsh_sessions_active', { kind: 'attach' })).toBe(0);
    ended();
    ended();
    expect(await value('ztsh_sessions_active', { kind: 'exec' })).toBe(0);
    expect(await value('ztsh_sessions_active', { kind: 'portforward' })).toBe(1);
  });

  it('reads tunnels online and the env label of each cluster at scrape time', async () => {
    const { tunnels, value } = setup();
    const prod = tunnel('prod', { env: 'production' });
    tunnels.add(prod);
    tunnels.add(tunnel('dev'));
    expect(await value('ztsh_tunnels_online', { cluster: 'prod' })).toBe(1);
    tunnels.remove(prod, new Date());
    expect(await value('ztsh_tunnels_online', { cluster: 'prod' })).toBe(0);
    expect(await value('ztsh_tunnels_online', { cluster: 'dev' })).toBe(1);
    expect(await value('ztsh_cluster_info', { cluster: 'prod', env: 'production' })).toBe(1);
    expect(await value('ztsh_cluster_info', { cluster: 'dev', env: '' })).toBe(1);
  });

  it('has audit metrics only when it owns an outbox (run apart), and reads its depth then', async () => {
    const inProcess = setup();
    expect(inProcess.registry.getSingleMetric('ztsh_audit_queue_depth')).toBeUndefined();
    inProcess.metrics.auditWriteError();
    let pending = 7;
    const apart = setup({ auditPending: () => pending });
    apart.metrics.auditWriteError();
    expect(await apart.value('ztsh_audit_queue_depth')).toBe(7);
    pending = 0;
    expect(await apart.value('ztsh_audit_queue_depth')).toBe(0);
    expect(await apart.value('ztsh_audit_write_errors_total')).toBe(1);
  });

  it('counts lock terminations', async () => {
    const { metrics, value } = setup();
    metrics.lockTermination();
    expect(await value('ztsh_lock_terminations_total')).toBe(1);
  });
});
