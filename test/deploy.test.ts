// deploy/: the manifests parse, and the configs inside them load with the
// same checks ztshd and the agent apply at start; the probes ask /healthz and
// /readyz; the alerts and the dashboard are valid PromQL over metrics that a
// live ztshd and agent really expose.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import { AgentConfigSchema, startAgentOps } from '@ztsh/agent';
import { checkAuthConfig, loadRoles } from '@ztsh/auth';
import { loadConfigFile } from '@ztsh/server';
import { describe, expect, it } from 'vitest';
import { scrape } from './helpers/scrape.ts';
import { startTestStack } from './helpers/stack.ts';

const docs = (file: string) => parseAllDocuments(readFileSync(new URL(`../deploy/kubernetes/${file}`, import.meta.url), 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS() as { kind: string; data?: Record<string, string>; spec?: any };
});

describe('deploy/', () => {
  it('ztshd.yaml: its ztsh.yaml loads and passes the start-up checks; the pod runs non-root on a read-only root', () => {
    const all = docs('ztshd.yaml');
    const config = all.find((d) => d.kind === 'ConfigMap')!.data!['ztsh.yaml']!;
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-deploy-'));
    writeFileSync(join(dir, 'ztsh.yaml'), config);
    const loaded = loadConfigFile(join(dir, 'ztsh.yaml'));
    checkAuthConfig(loaded.config.auth!, loadRoles(loaded.config.auth!, loaded.baseDir));
    const pod = all.find((d) => d.kind === 'StatefulSet')!.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.containers[0].image).not.toMatch(/:latest$|^[^:]+$/);
    // Metrics on a port of their own, behind a token, and not in the public Service.
    expect(loaded.config.metrics).toEqual({ listen: '0.0.0.0:9464', token: { env: 'ZTSH_METRICS_TOKEN' } });
    const service = all.find((d) => d.kind === 'Service')!.spec;
    expect(service.ports.map((p: { targetPort: number }) => p.targetPort)).toEqual([3080]);
  });

  it('ztshd.yaml: the probes ask /readyz and /healthz, not an API route', () => {
    const container = docs('ztshd.yaml').find((d) => d.kind === 'StatefulSet')!.spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
  });

  it('every manifest parses, and each object has an apiVersion, a kind and a name', () => {
    const files = readdirSync(new URL('../deploy/kubernetes/', import.meta.url)).filter((f) => f.endsWith('.yaml'));
    expect(files).toEqual(expect.arrayContaining(['ztshd.yaml', 'ztshd-ha.yaml', 'agent.yaml', 'prometheus-rule.yaml']));
    for (const file of files) {
      for (const d of docs(file) as unknown as { apiVersion?: string; kind?: string; metadata?: { name?: string } }[]) {
        expect(d.apiVersion, file).toMatch(/^[\w./]+$/);
        expect(d.kind, file).toMatch(/^[A-Z]\w+$/);
        expect(d.metadata?.name, `${file}: ${d.kind}`).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
      }
    }
  });

  it('ztshd-ha.yaml: three replicas on PostgreSQL, never two on one node, at most one down by choice', () => {
    const all = docs('ztshd-ha.yaml');
    const deployment = all.find((d) => d.kind === 'Deployment')!.spec;
    const labels = deployment.template.metadata.labels as Record<string, string>;
    expect(deployment.replicas).toBe(3);
    expect(deployment.selector.matchLabels).toEqual(labels);
    // Rolling updates replace one pod at a time, which the budget allows.
    expect(deployment.strategy.rollingUpdate.maxUnavailable).toBe(1);
    const anti = deployment.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(anti).toEqual([{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } }]);
    const pdb = all.find((d) => d.kind === 'PodDisruptionBudget')! as unknown as { apiVersion: string; spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec).toEqual({ minAvailable: 2, selector: { matchLabels: labels } });
    const service = all.find((d) => d.kind === 'Service')!.spec;
    expect(service.selector).toEqual(labels);
    expect(service.ports).toEqual([{ name: 'https', port: 443, targetPort: 3080 }]);
    const pod = deployment.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.containers[0].image).not.toMatch(/:latest$|^[^:]+$/);
  });

  it('ztshd-ha.yaml: ready means the store answers (/readyz), alive means the process does (/healthz)', () => {
    const container = docs('ztshd-ha.yaml').find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(container.ports.find((p: { name: string }) => p.name === 'https').containerPort).toBe(3080);
  });

  it('ztshd-ha.yaml: its ztsh.yaml loads with storage: postgres; the password is a file from a Secret, in no env and no URL', () => {
    const all = docs('ztshd-ha.yaml');
    const text = all.find((d) => d.kind === 'ConfigMap')!.data!['ztsh.yaml']!;
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-deploy-'));
    writeFileSync(join(dir, 'ztsh.yaml'), text);
    const loaded = loadConfigFile(join(dir, 'ztsh.yaml'));
    checkAuthConfig(loaded.config.auth!, loadRoles(loaded.config.auth!, loaded.baseDir));
    const storage = (loaded.config as { storage?: Record<string, unknown> }).storage!;
    expect(storage).toMatchObject({ engine: 'postgres', password_file: expect.any(String), ca_file: expect.any(String) });
    expect(storage.password).toBeUndefined();
    expect(storage.password_env).toBeUndefined();
    expect(new URL(storage.url as string).password).toBe('');

    const pod = all.find((d) => d.kind === 'Deployment')!.spec.template.spec;
    const container = pod.containers[0];
    // Each file the storage section names is in a read-only mount of the ztshd-postgres Secret.
    const secretVolume = (path: string) => {
      const mount = (container.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).find((m) => posix.dirname(path) === m.mountPath);
      expect(mount, path).toBeDefined();
      expect(mount!.readOnly).toBe(true);
      return (pod.volumes as { name: string; secret?: { secretName: string; defaultMode?: number } }[]).find((v) => v.name === mount!.name)!.secret!;
    };
    for (const file of [storage.password_file as string, storage.ca_file as string]) {
      const volume = secretVolume(file);
      expect(volume.secretName).toBe('ztshd-postgres');
      // No one but the pod's user and group reads it (0440).
      expect(volume.defaultMode).toBe(0o440);
    }
    const secret = all.find((d) => d.kind === 'Secret' && (d as unknown as { metadata: { name: string } }).metadata.name === 'ztshd-postgres') as unknown as { stringData: Record<string, string> };
    expect(Object.keys(secret.stringData).sort()).toEqual([posix.basename(storage.ca_file as string), posix.basename(storage.password_file as string)].sort());
    // The database Secret reaches the pod only as files.
    expect(JSON.stringify(container.env ?? [])).not.toContain('ztshd-postgres');
    expect(JSON.stringify(container.envFrom ?? [])).not.toContain('ztshd-postgres');
    // Same CA seal on every replica: it comes from the one Secret.
    expect(container.envFrom).toEqual([{ secretRef: { name: 'ztshd-secrets' } }]);
  });

  it('agent.yaml: its agent config is valid; the role may only impersonate; egress is limited', () => {
    const all = docs('agent.yaml');
    AgentConfigSchema.parse(parseAllDocuments(all.find((d) => d.kind === 'ConfigMap')!.data!['agent.yaml']!)[0]!.toJS());
    const role = all.find((d) => d.kind === 'ClusterRole') as unknown as { rules: { verbs: string[]; resources: string[] }[] };
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['users', 'groups', 'serviceaccounts'], verbs: ['impersonate'] }]);
    const policy = all.find((d) => d.kind === 'NetworkPolicy')!.spec;
    expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
    // Nothing comes in but scrapes of the metrics port, from the monitoring namespace.
    expect(policy.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9464 }] }]);
    const deployment = all.find((d) => d.kind === 'Deployment')!.spec.template.spec;
    expect(deployment.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(deployment.containers[0].resources.limits).toBeDefined();
  });

  it('agent.yaml: the probes ask /readyz and /healthz on the metrics listener its config opens', () => {
    const all = docs('agent.yaml');
    const config = AgentConfigSchema.parse(parseAllDocuments(all.find((d) => d.kind === 'ConfigMap')!.data!['agent.yaml']!)[0]!.toJS());
    const container = all.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0];
    expect(config.metrics?.listen).toBe('0.0.0.0:9464');
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9464 }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
  });
});

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const ruleDoc = () => docs('prometheus-rule.yaml')[0] as unknown as { apiVersion: string; kind: string; spec: { groups: { name: string; rules: Rule[] }[] } };
const dashboard = () => JSON.parse(readFileSync(new URL('../deploy/grafana/ztsh-dashboard.json', import.meta.url), 'utf8'));

/** Grafana's variables made PromQL: a range for $__rate_interval and friends, a regex for the others. */
const asPromql = (expr: string) => expr.replace(/\$__\w+/g, '5m').replace(/\$\{?\w+\}?/g, '.*');

/** Parses with Prometheus' own grammar; returns the metric names selected, or the text of the first error. */
function metricsOf(expr: string): { names: string[]; error?: string } {
  const tree = promql.parse(expr);
  const names: string[] = [];
  let error: string | undefined;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError && error === undefined) error = `near "${expr.slice(Math.max(0, node.from - 10), node.to + 10)}"`;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  return error === undefined ? { names } : { names, error };
}

function dashboardExprs(d: { panels: { type: string; targets?: { expr: string }[] }[]; templating: { list: { type: string; query: unknown }[] } }): string[] {
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

describe('deploy/: alerts and dashboard', () => {
  it('prometheus-rule.yaml: a PrometheusRule whose alerts parse as PromQL, each with a severity and a summary', () => {
    const doc = ruleDoc();
    expect([doc.apiVersion, doc.kind]).toEqual(['monitoring.coreos.com/v1', 'PrometheusRule']);
    const rules = doc.spec.groups.flatMap((g) => g.rules);
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^Ztsh[A-Za-z]+$/);
      expect(metricsOf(rule.expr).error, `${rule.alert}: ${rule.expr}`).toBeUndefined();
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
      if (rule.for) expect(rule.for).toMatch(/^\d+[smh]$/);
    }
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    // The ones platform teams run on the audit stream.
    expect(names).toEqual(expect.arrayContaining(['ZtshExecIntoProduction', 'ZtshCertificateIssuanceFailures', 'ZtshRefusalBurst', 'ZtshAgentOffline']));
    const exec = rules.find((r) => r.alert === 'ZtshExecIntoProduction')!.expr;
    expect(exec).toMatch(/ztsh_sessions_started_total\{kind="exec"/);
    expect(rules.find((r) => r.alert === 'ZtshRefusalBurst')!.expr).toMatch(/code="403"/);
    expect(rules.find((r) => r.alert === 'ZtshAgentOffline')!.expr).toMatch(/ztsh_tunnels_online\) == 0/);
  });

  it('grafana/ztsh-dashboard.json: a dashboard model with a Prometheus data source variable; every query parses', () => {
    const d = dashboard();
    expect(d).toMatchObject({ title: 'ztsh', uid: expect.stringMatching(/^[\w-]{1,40}$/), schemaVersion: expect.any(Number) });
    const vars = d.templating.list as { name: string; type: string; query: unknown; datasource?: unknown }[];
    expect(vars.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = new Set<number>();
    for (const p of d.panels as { id: number; type: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: unknown; targets?: { refId: string; expr: string }[] }[]) {
      expect(ids.has(p.id), `panel id ${p.id} twice`).toBe(false);
      ids.add(p.id);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
      if (p.type === 'row') continue;
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets!.length).toBeGreaterThan(0);
      for (const t of p.targets!) expect(metricsOf(asPromql(t.expr)).error, t.expr).toBeUndefined();
    }
    for (const v of vars.filter((x) => x.type === 'query')) expect(v.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('every metric the alerts and the dashboard name is in a live scrape of ztshd and of an agent', async () => {
    const stack = await startTestStack({ metrics: { listen: '127.0.0.1:0' } });
    const agent = await startAgentOps('127.0.0.1:0', pino({ level: 'silent' }));
    let exposed: Set<string>;
    try {
      const scrapes = [await scrape(new URL('/metrics', stack.ztshd.metricsUrl!)), await scrape(new URL('/metrics', agent.url))];
      exposed = new Set(scrapes.flatMap((s) => [...s.families, ...s.samples.map((x) => x.name)]));
    } finally {
      await agent.close();
      await stack.close();
    }
    const d = dashboard();
    const used = new Set([
      ...ruleDoc().spec.groups.flatMap((g) => g.rules).flatMap((r) => metricsOf(r.expr).names),
      ...dashboardExprs(d).flatMap((e) => metricsOf(asPromql(e)).names),
      // label_values(<metric>, <label>) of the dashboard's variables.
      ...(d.templating.list as { query: unknown }[]).flatMap((v) => [...JSON.stringify(v.query).matchAll(/label_values\((\w+),/g)].map((m) => m[1]!)),
    ]);
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used].filter((name) => !exposed.has(name) && !exposed.has(name.replace(/_(bucket|sum|count)$/, '')));
    expect(missing).toEqual([]);
  });
});
