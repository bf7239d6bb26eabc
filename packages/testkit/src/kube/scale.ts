// The deployments/scale subresource (autoscaling/v1 Scale), which `kubectl scale` patches.
import { applyPatch, parseBody, patchType } from './patch.ts';
import type { ResourceInfo } from './resources.ts';
import { StatusError, badRequest, notFound } from './status.ts';
import type { Json } from './strategic-merge.ts';
import type { KubeObject, Store } from './store.ts';

type Obj = Record<string, unknown>;

function toScale(d: KubeObject): KubeObject {
  const spec = (d.spec ?? {}) as Obj;
  const labels = ((spec.selector as Obj | undefined)?.matchLabels ?? {}) as Record<string, string>;
  const { name, namespace, uid, resourceVersion, creationTimestamp } = d.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: spec.replicas ?? 1 },
    status: {
      replicas: ((d.status ?? {}) as Obj).replicas ?? 0,
      selector: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','),
    },
  };
}

export interface ScaleCall {
  info: ResourceInfo;
  namespace: string;
  name: string;
  verb: string;
  contentType: string | undefined;
  body: string;
}

/** Answers get/update/patch on deployments/NAME/scale with the resulting Scale. */
export function scale(store: Store, c: ScaleCall): KubeObject {
  const current = store.get(c.info, c.namespace, c.name);
  if (!current) throw new StatusError(notFound(c.info, c.name));
  if (c.verb === 'get') return toScale(current);
  let wanted: Json;
  if (c.verb === 'update') wanted = parseBody(c.body);
  else if (c.verb === 'patch') wanted = applyPatch(patchType(c.contentType), toScale(current) as unknown as Json, parseBody(c.body));
  else throw new StatusError(badRequest(`cannot ${c.verb} a Scale`));
  const replicas = Number(((wanted as Obj | null)?.spec as Obj | undefined)?.replicas);
  if (!Number.isInteger(replicas) || replicas < 0) throw new StatusError(badRequest('spec.replicas must be a non-negative integer'));
  const spec = { ...((current.spec ?? {}) as Obj), replicas };
  return toScale(store.update(c.info, c.namespace, c.name, { ...current, spec }));
}
