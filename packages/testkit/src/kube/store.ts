// In-memory object store for every resource type in resources.ts. One global resourceVersion
// counter (like etcd's revision), a full event history so a watch can start at any version, and
// listeners for live watches. Objects are plain JSON; callers get deep copies, never the stored one.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { applyDefaults } from './defaults.ts';
import { apiVersionOf, type ResourceInfo } from './resources.ts';
import { StatusError, alreadyExists, conflict, notFound } from './status.ts';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  info: ResourceInfo;
  namespace: string;
  object: KubeObject;
}

export interface Store {
  get(info: ResourceInfo, namespace: string, name: string): KubeObject | undefined;
  /** `namespace` undefined = all namespaces (or a cluster-scoped type). */
  list(info: ResourceInfo, namespace?: string): { items: KubeObject[]; resourceVersion: string };
  create(info: ResourceInfo, namespace: string, obj: KubeObject): KubeObject;
  update(info: ResourceInfo, namespace: string, name: string, obj: KubeObject): KubeObject;
  remove(info: ResourceInfo, namespace: string, name: string): KubeObject;
  /** Events with resourceVersion > `afterRv`, in order. */
  history(afterRv: number): StoreEvent[];
  onEvent(listener: (e: StoreEvent) => void): () => void;
  currentRv(): number;
}

export const clone = <T>(v: T): T => structuredClone(v);

export function createStore(now: () => Date = () => new Date()): Store {
  const objects = new Map<string, KubeObject>();
  const events: StoreEvent[] = [];
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let rv = 1;
  let addresses = 0;
  const seq = () => addresses++;

  const key = (info: ResourceInfo, ns: string, name: string) =>
    `${info.group}/${info.resource}/${info.namespaced ? ns : ''}/${name}`;
  const prefix = (info: ResourceInfo, ns?: string) =>
    `${info.group}/${info.resource}/${info.namespaced && ns !== undefined ? `${ns}/` : ''}`;
  const timestamp = () => now().toISOString().replace(/\.\d+Z$/, 'Z');

  function record(type: WatchEventType, info: ResourceInfo, obj: KubeObject): void {
    const event: StoreEvent = { rv, type, info, namespace: obj.metadata.namespace ?? '', object: clone(obj) };
    events.push(event);
    emitter.emit('event', event);
  }

  return {
    get(info, ns, name) {
      const obj = objects.get(key(info, ns, name));
      return obj && clone(obj);
    },

    list(info, ns) {
      const p = prefix(info, ns);
      const items = [...objects.entries()]
        .filter(([k]) => k.startsWith(p))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, o]) => clone(o));
      return { items, resourceVersion: String(rv) };
    },

    create(info, ns, input) {
      const obj = clone(input);
      const meta = obj.metadata;
      if (!meta.name && meta.generateName) meta.name = meta.generateName + randomUUID().slice(0, 5);
      const name = meta.name ?? '';
      const k = key(info, ns, name);
      if (objects.has(k)) throw new StatusError(alreadyExists(info, name));
      obj.apiVersion = apiVersionOf(info);
      obj.kind = info.kind;
      if (info.namespaced) meta.namespace = ns;
      else delete meta.namespace;
      meta.uid = randomUUID();
      meta.creationTimestamp = timestamp();
      if (info.resource === 'deployments') meta.generation = 1;
      applyDefaults(info, obj, timestamp(), seq);
      rv += 1;
      meta.resourceVersion = String(rv);
      objects.set(k, obj);
      record('ADDED', info, obj);
      return clone(obj);
    },

    update(info, ns, name, input) {
      const k = key(info, ns, name);
      const old = objects.get(k);
      if (!old) throw new StatusError(notFound(info, name));
      const obj = clone(input);
      const given = obj.metadata.resourceVersion;
      if (given && given !== old.metadata.resourceVersion) {
        throw new StatusError(conflict(info, name, 'the object has been modified; please apply your changes to the latest version and try again'));
      }
      obj.apiVersion = apiVersionOf(info);
      obj.kind = info.kind;
      obj.metadata = {
        ...obj.metadata,
        name,
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        ...(info.namespaced ? { namespace: ns } : {}),
      };
      if (obj.status === undefined && old.status !== undefined) obj.status = clone(old.status); // as for PUT without status
      if (info.resource === 'deployments') {
        const changed = JSON.stringify(obj.spec) !== JSON.stringify(old.spec);
        obj.metadata.generation = (old.metadata.generation ?? 1) + (changed ? 1 : 0);
      }
      applyDefaults(info, obj, old.metadata.creationTimestamp ?? timestamp(), seq);
      if (sameContent(obj, old)) return clone(old); // a no-op write keeps the resourceVersion, as on a real server
      rv += 1;
      obj.metadata.resourceVersion = String(rv);
      objects.set(k, obj);
      record('MODIFIED', info, obj);
      return clone(obj);
    },

    remove(info, ns, name) {
      const k = key(info, ns, name);
      const old = objects.get(k);
      if (!old) throw new StatusError(notFound(info, name));
      objects.delete(k);
      rv += 1;
      old.metadata.resourceVersion = String(rv);
      record('DELETED', info, old);
      return clone(old);
    },

    history(afterRv) {
      return events.filter((e) => e.rv > afterRv);
    },

    onEvent(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },

    currentRv: () => rv,
  };
}

/** Equal apart from metadata.resourceVersion, ignoring key order. */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return canonical(strip(a)) === canonical(strip(b));
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
