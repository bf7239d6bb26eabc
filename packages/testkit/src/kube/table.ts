// Server-side printing: meta.k8s.io/v1 Table answers for `kubectl get` (Accept: ...;as=Table).
// Columns follow the real apiserver's printers for each type (priority 1 = only with -o wide);
// rows embed PartialObjectMetadata unless ?includeObject=Object|None says otherwise.
import type { ResourceInfo } from './resources.ts';
import type { KubeObject } from './store.ts';

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell: (o: KubeObject, now: Date) => unknown;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name ?? '' };
const age: Column = { name: 'Age', type: 'string', cell: (o, now) => humanAge(o.metadata.creationTimestamp, now) };

const COLUMNS: Record<string, Column[]> = {
  pods: [
    name,
    {
      name: 'Ready', type: 'string', cell: (o) => {
        const statuses = arr(obj(o.status).containerStatuses);
        return `${statuses.filter((s) => s.ready).length}/${arr(obj(o.spec).containers).length}`;
      },
    },
    { name: 'Status', type: 'string', cell: (o) => (o.metadata.deletionTimestamp ? 'Terminating' : String(obj(o.status).reason ?? obj(o.status).phase ?? 'Pending')) },
    { name: 'Restarts', type: 'string', cell: (o) => String(arr(obj(o.status).containerStatuses).reduce((n, s) => n + Number(s.restartCount ?? 0), 0)) },
    age,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => obj(o.status).podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => obj(o.spec).nodeName ?? '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: () => '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: () => '<none>' },
  ],
  configmaps: [
    name,
    { name: 'Data', type: 'integer', cell: (o) => Object.keys(obj(o.data)).length + Object.keys(obj(o.binaryData)).length },
    age,
  ],
  secrets: [
    name,
    { name: 'Type', type: 'string', cell: (o) => o.type ?? 'Opaque' },
    { name: 'Data', type: 'integer', cell: (o) => Object.keys(obj(o.data)).length },
    age,
  ],
  services: [
    name,
    { name: 'Type', type: 'string', cell: (o) => obj(o.spec).type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => obj(o.spec).clusterIP ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: () => '<none>' },
    { name: 'Port(s)', type: 'string', cell: (o) => arr(obj(o.spec).ports).map((p) => `${String(p.port)}/${String(p.protocol ?? 'TCP')}`).join(',') || '<none>' },
    age,
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => Object.entries(obj(obj(o.spec).selector)).map(([k, v]) => `${k}=${String(v)}`).join(',') || '<none>' },
  ],
  events: [
    { name: 'Last Seen', type: 'string', cell: (o, now) => humanAge(String(o.lastTimestamp ?? o.metadata.creationTimestamp), now) },
    { name: 'Type', type: 'string', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', cell: (o) => o.reason ?? '' },
    { name: 'Object', type: 'string', cell: (o) => `${String(obj(o.involvedObject).kind ?? '').toLowerCase()}/${String(obj(o.involvedObject).name ?? '')}` },
    { name: 'Message', type: 'string', cell: (o) => o.message ?? '' },
  ],
  namespaces: [name, { name: 'Status', type: 'string', cell: (o) => obj(o.status).phase ?? 'Active' }, age],
  deployments: [
    name,
    { name: 'Ready', type: 'string', cell: (o) => `${Number(obj(o.status).readyReplicas ?? 0)}/${Number(obj(o.spec).replicas ?? 0)}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => Number(obj(o.status).updatedReplicas ?? 0) },
    { name: 'Available', type: 'integer', cell: (o) => Number(obj(o.status).availableReplicas ?? 0) },
    age,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containersOf(o).map((c) => c.name).join(',') },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containersOf(o).map((c) => c.image).join(',') },
  ],
};

function containersOf(o: KubeObject): Json[] {
  return arr(obj(obj(obj(o.spec).template).spec).containers);
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function toTable(
  info: ResourceInfo,
  items: KubeObject[],
  resourceVersion: string,
  include: IncludeObject,
  now: Date,
): object {
  const columns = COLUMNS[info.resource] ?? [name, age];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: items.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      ...(include === 'None' ? {} : { object: include === 'Object' ? o : partialMetadata(o) }),
    })),
  };
}

function partialMetadata(o: KubeObject): object {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** Like apimachinery's HumanDuration: 45s, 3m20s, 25m, 5h10m, 3d4h, 40d, 2y. */
export function humanAge(since: string | undefined, now: Date): string {
  if (!since) return '<unknown>';
  const secs = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  const mins = Math.floor(secs / 60);
  const hours = Math.floor(secs / 3600);
  const days = Math.floor(hours / 24);
  if (secs < 60 * 2) return `${secs}s`;
  if (mins < 10) return secs % 60 === 0 ? `${mins}m` : `${mins}m${secs % 60}s`;
  if (mins < 60 * 3) return `${mins}m`;
  if (hours < 8) return mins % 60 === 0 ? `${hours}h` : `${hours}h${mins % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}
