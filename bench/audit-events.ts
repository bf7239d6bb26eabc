// A month of audit events as a busy ztsh deployment writes them: ~50 engineers
// on ~10 clusters, mostly kube requests in bursts (one kubectl command is a
// few requests), with logins, certificates, exec sessions, port-forwards and
// the odd lock in between. Session and port-forward ends are written when
// they happen, later in the log than their starts. Deterministic: the same
// seed gives the same events (ids and hashes aside), so the benchmark's
// queries always find the same kinds of hits.
import type { NewAuditEvent } from '@ztsh/auth';
import { auditCode, type AuditEventType } from '@ztsh/protocol';

/** The newest event is just before this instant; the oldest about DAYS earlier. */
export const END = Date.UTC(2026, 10, 1);
export const DAYS = 30;

export const USERS = [
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy',
  'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'wendy',
  'aisha', 'bruno', 'chen', 'dmitri', 'elif', 'fatima', 'goran', 'hana', 'ines', 'jonas',
  'kenji', 'lena', 'mateo', 'nadia', 'omar', 'priya', 'quentin', 'rosa', 'sven', 'tariq',
  'ulla', 'vera', 'wei', 'ximena', 'yusuf', 'zoe', 'arjun', 'bianca', 'cyrus', 'dalia',
];
export const CLUSTERS = [
  'prod-eu-west-1', 'prod-us-east-1', 'prod-ap-south-1', 'staging-eu', 'staging-us',
  'dev-shared', 'ci-runners', 'data-platform', 'edge-gateways', 'sandbox',
];
const NAMESPACES = ['default', 'payments', 'checkout', 'search', 'identity', 'monitoring', 'ingress-nginx', 'kube-system', 'batch', 'ml-serving'];
const APPS = ['api', 'web', 'worker', 'scheduler', 'gateway', 'indexer', 'billing', 'auth', 'redis', 'postgres', 'kafka', 'prometheus', 'grafana', 'ingress', 'ledger', 'notifier'];
const RESOURCES: [resource: string, apiGroup: string, weight: number][] = [
  ['pods', '', 40], ['deployments', 'apps', 12], ['services', '', 6], ['configmaps', '', 6], ['events', '', 6],
  ['replicasets', 'apps', 4], ['secrets', '', 3], ['nodes', '', 3], ['namespaces', '', 3], ['jobs', 'batch', 3],
  ['ingresses', 'networking.k8s.io', 2], ['statefulsets', 'apps', 2], ['persistentvolumeclaims', '', 2], ['horizontalpodautoscalers', 'autoscaling', 1],
];
const VERBS: [verb: string, weight: number][] = [['get', 45], ['list', 30], ['watch', 10], ['patch', 5], ['update', 3], ['create', 4], ['delete', 3]];
const COMMANDS: [command: string[], weight: number][] = [
  [['sh'], 20], [['bash'], 15], [['ls', '-la', '/var/log'], 6], [['cat', '/etc/config/app.yaml'], 6], [['env'], 5],
  [['ps', 'aux'], 4], [['df', '-h'], 3], [['tail', '-n', '200', '/var/log/app.log'], 4], [['curl', '-s', 'localhost:8080/healthz'], 4],
  [['psql', '-U', 'app', '-c', 'select count(*) from orders'], 2], [['redis-cli', 'info', 'memory'], 2], [['tar', 'cf', '-', '/data/export'], 2],
  [['rm', '-rf', '/tmp/cache'], 1], [['rm', '-rf', '/var/lib/app/tmp'], 1], [['kill', '-9', '1'], 1],
];
const ROLE_SETS: { roles: string[]; groups: string[]; weight: number }[] = [
  { roles: ['developer'], groups: ['developers'], weight: 60 },
  { roles: ['developer', 'oncall'], groups: ['developers', 'oncall'], weight: 20 },
  { roles: ['sre'], groups: ['sre', 'system:masters'], weight: 15 },
  { roles: ['auditor'], groups: ['auditors'], weight: 5 },
];

/** mulberry32: small, fast, good enough to shape a data set. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';

interface Person {
  name: string;
  roles: string[];
  groups: string[];
  ip: string;
  /** Clusters this person works on, the first most. */
  clusters: string[];
  namespaces: string[];
  weight: number;
}

export interface GeneratedAudit {
  /** Events in time order, `batchSize` at a time (once: the generator keeps its state). */
  batches(batchSize: number): Generator<NewAuditEvent[]>;
  /** A pod that shows up in a few hundred events, for the text search. */
  somePod: string;
}

export function generateAudit(total: number, seed = 7): GeneratedAudit {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const weighted = <T>(xs: readonly (readonly [T, number])[]): T => {
    let r = rnd() * xs.reduce((s, [, w]) => s + w, 0);
    for (const [x, w] of xs) if ((r -= w) < 0) return x;
    return xs[xs.length - 1]![0];
  };
  const token = (n: number) => Array.from({ length: n }, () => ALNUM[int(ALNUM.length)]).join('');
  const uuid = () => `${token(8)}-${token(4)}-4${token(3)}-a${token(3)}-${token(12)}`;

  // Pods per cluster and namespace: a few deployments, each with a few replicas.
  const pods = new Map<string, string[]>();
  for (const c of CLUSTERS) {
    for (const ns of NAMESPACES) {
      const list: string[] = [];
      for (let d = 0; d < 4; d++) {
        const rs = `${pick(APPS)}-${token(9)}`;
        for (let r = 0; r < 3; r++) list.push(`${rs}-${token(5)}`);
      }
      pods.set(`${c}/${ns}`, list);
    }
  }
  const people: Person[] = USERS.map((name, i) => {
    const set = weighted(ROLE_SETS.map((s) => [s, s.weight] as const));
    const start = int(CLUSTERS.length);
    return {
      name,
      roles: set.roles,
      groups: set.groups,
      ip: `10.${20 + (i % 4)}.${int(250)}.${1 + int(250)}`,
      clusters: [0, 1, 2].map((k) => CLUSTERS[(start + k * 3) % CLUSTERS.length]!),
      namespaces: [pick(NAMESPACES), pick(NAMESPACES), pick(NAMESPACES)],
      weight: 1 / (1 + i * 0.08), // a long tail: a few engineers are on the clusters all day
    };
  });
  const personWeights = people.map((p) => [p, p.weight] as const);
  const somePod = pods.get(`${people[3]!.clusters[0]}/${people[3]!.namespaces[0]}`)![0]!;

  // Average gap between events so that `total` of them span DAYS.
  const meanGapMs = (DAYS * 86_400_000) / total;
  let now = END - DAYS * 86_400_000;
  // Events due later (the end of a session, of a port-forward), in due order.
  const later: { due: number; event: NewAuditEvent }[] = [];
  const defer = (due: number, e: NewAuditEvent) => {
    let at = later.length;
    while (at > 0 && later[at - 1]!.due > due) at--;
    later.splice(at, 0, { due, event: e });
  };
  const event = (type: AuditEventType, success: boolean, p: Person, fields: Record<string, unknown>, message?: string, at = now): NewAuditEvent => ({
    time: new Date(at).toISOString(),
    type,
    code: auditCode(type, success),
    success,
    user: p.name,
    clientIp: p.ip,
    ...(message ? { message } : {}),
    fields,
  });

  // One burst: what a person does in a minute or so, 1 to ~40 events.
  const burst = (out: NewAuditEvent[], want: number) => {
    const p = weighted(personWeights);
    const cluster = rnd() < 0.8 ? p.clusters[0]! : pick(p.clusters);
    const namespace = rnd() < 0.85 ? pick(p.namespaces) : pick(NAMESPACES);
    const nsPods = pods.get(`${cluster}/${namespace}`)!;
    const r = rnd();
    if (r < 0.012) {
      const loginId = uuid();
      const ok = rnd() > 0.06;
      out.push(event('user.login', ok, p, ok ? { connector: 'okta', kind: rnd() < 0.9 ? 'browser' : 'device', mfa: rnd() < 0.7 ? 'webauthn' : 'totp', roles: p.roles, client: { name: 'ztsh', hostname: `${p.name}-laptop`, version: '0.9.2' } } : { reason: rnd() < 0.5 ? 'mfa_failed' : 'idp_denied' }, ok ? undefined : 'second factor failed'));
      now += 2000;
      if (ok) out.push(event('cert.issued', true, p, { serial: token(32), notAfter: new Date(now + 8 * 3_600_000).toISOString(), ttlMs: 28_800_000, roles: p.roles, kubernetesGroups: p.groups }));
      return;
    }
    if (r < 0.04) {
      const command = weighted(COMMANDS);
      const pod = pick(nsPods);
      const sessionId = uuid();
      const kind = command[0] === 'tar' ? 'cp' : 'exec';
      const tty = command.length === 1;
      out.push(event('kube.request', true, p, requestFields(cluster, 'create', 'pods', '', namespace, pod, 101, p, 'exec', sessionId)));
      out.push(event('session.start', true, p, { sessionId, kind, cluster, namespace, pod, container: null, command, tty, roles: p.roles, kubernetesUser: p.name, kubernetesGroups: p.groups }, `${kind} ${namespace}/${pod}: ${command.join(' ')}`));
      const durationMs = tty ? 30_000 + int(900_000) : 200 + int(5000);
      const exitCode = rnd() < 0.9 ? 0 : 1;
      const end = now + durationMs;
      defer(end, event('session.end', true, p, { sessionId, kind, cluster, namespace, pod, exitCode, bytesIn: tty ? 200 + int(4000) : 0, bytesOut: 500 + int(200_000), durationMs, endReason: null, recordingSize: 1000 + int(400_000) }, `${kind} ${namespace}/${pod} ended with exit code ${exitCode}`, end));
      return;
    }
    if (r < 0.045) {
      const pod = pick(nsPods);
      const sessionId = uuid();
      out.push(event('port_forward.start', true, p, { sessionId, kind: 'portforward', cluster, namespace, pod, command: [], tty: false, roles: p.roles }, `portforward ${namespace}/${pod}`));
      const end = now + 60_000 + int(1_800_000);
      defer(end, event('port_forward.end', true, p, { sessionId, kind: 'portforward', cluster, namespace, pod, bytesIn: int(100_000), bytesOut: int(5_000_000) }, `portforward ${namespace}/${pod} ended`, end));
      return;
    }
    if (r < 0.046 && p.roles.includes('sre')) {
      const target = pick(people);
      out.push(event('lock.created', true, p, { lockId: uuid(), target: { user: target.name }, message: 'suspicious activity, investigating' }));
      return;
    }
    // kubectl commands: a discovery-free GET or LIST and its follow-ups.
    const n = Math.min(want, 1 + int(12) + (rnd() < 0.1 ? int(30) : 0));
    const denied = rnd() < 0.03;
    for (let i = 0; i < n; i++) {
      const [resource, apiGroup] = weighted(RESOURCES.map(([res, g, w]) => [[res, g] as const, w] as const));
      const verb = weighted(VERBS);
      const named = verb !== 'list' && verb !== 'watch' && verb !== 'create';
      const name = named ? (resource === 'pods' ? pick(nsPods) : `${pick(APPS)}${rnd() < 0.5 ? '' : '-' + token(4)}`) : undefined;
      const ns = resource === 'nodes' || resource === 'namespaces' ? undefined : namespace;
      if (denied) {
        out.push(event('kube.request', false, p, { cluster, verb, apiGroup, resource, ...(ns ? { namespace: ns } : {}), ...(name ? { name } : {}), method: verbMethod(verb), roles: p.roles, status: 403, reason: 'denied' }, `${p.name} may not ${verb} ${resource}${ns ? ` in ${ns}` : ''} on ${cluster}`));
        now += 300 + int(2000);
        break;
      }
      const status = verb === 'get' && rnd() < 0.04 ? 404 : verb === 'create' && rnd() < 0.05 ? 409 : 200;
      out.push(event('kube.request', status < 400, p, requestFields(cluster, verb, resource, apiGroup, ns, name, status, p)));
      now += 20 + int(250);
    }
  };

  const requestFields = (cluster: string, verb: string, resource: string, apiGroup: string, namespace: string | undefined, name: string | undefined, status: number, p: Person, subresource?: string, sessionId?: string) => ({
    cluster,
    verb,
    apiGroup,
    resource,
    ...(subresource ? { subresource } : {}),
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    roles: p.roles,
    kubernetesUser: p.name,
    kubernetesGroups: p.groups,
    status,
    latencyMs: Math.round((2 + rnd() * rnd() * 400) * 100) / 100,
    ...(sessionId ? { sessionId } : {}),
  });

  // The gap after a burst grows with its size, so that `total` events end near END.
  function* batches(batchSize: number): Generator<NewAuditEvent[]> {
    let made = 0;
    let batch: NewAuditEvent[] = [];
    const pending: NewAuditEvent[] = [];
    while (made < total) {
      if (pending.length === 0 && later.length && later[0]!.due <= now) pending.push(later.shift()!.event);
      else if (pending.length === 0) {
        burst(pending, total - made);
        // Exponential gaps; no day and night, the load is even around the clock.
        now += -Math.log(1 - rnd()) * meanGapMs * Math.max(1, pending.length) * 0.9;
        now = Math.min(now, END - 1);
      }
      batch.push(pending.shift()!);
      made++;
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }
  return { batches, somePod };
}

function verbMethod(verb: string): string {
  return { get: 'GET', list: 'GET', watch: 'GET', create: 'POST', update: 'PUT', patch: 'PATCH', delete: 'DELETE' }[verb] ?? 'GET';
}
