// The REST verbs on stored objects: get, list (JSON or Table), watch, create, update, patch,
// delete, deletecollection — with the answers a real apiserver gives (201 on create, the deleted
// Pod itself but a Status for other kinds, 404/409/422 Status errors).
import { wantsAs } from './accept.ts';
import { applyPatch, parseBody, patchType } from './patch.ts';
import type { ResourceRequest } from './request-info.ts';
import { apiVersionOf, findResource, type ResourceInfo } from './resources.ts';
import { fieldSelector, labelSelector } from './selectors.ts';
import {
  StatusError,
  badRequest,
  invalid,
  methodNotAllowed,
  notFound,
  sendJson,
  success,
  unsupportedMediaType,
  type AnyResponse,
} from './status.ts';
import type { Json } from './strategic-merge.ts';
import { toTable, type IncludeObject } from './table.ts';
import type { KubeObject, Store } from './store.ts';
import { serveWatch } from './watch.ts';
import { scale } from './scale.ts';
import { decodeKubeProtobuf } from './protobuf.ts';

export interface RestContext {
  store: Store;
  now: () => Date;
  /** Called after an object is deleted (pods: end their log streams). */
  onDelete?: (info: ResourceInfo, obj: KubeObject) => void;
}

export interface RestCall {
  info: ResourceInfo;
  req: ResourceRequest;
  query: URLSearchParams;
  accept: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

const NAMESPACES = { group: '', resource: 'namespaces' };

export function handleRest(res: AnyResponse, call: RestCall, ctx: RestContext): void {
  const { info, req, query } = call;
  if (req.subresource === 'scale' && info.resource === 'deployments') {
    const body = ['update', 'patch'].includes(req.verb) ? call.body.toString('utf8') : '';
    const out = scale(ctx.store, { info, namespace: req.namespace ?? '', name: req.name ?? '', verb: req.verb, contentType: call.contentType, body });
    return sendJson(res, 200, out);
  }
  if (req.subresource && req.subresource !== 'status') throw new StatusError(methodNotAllowed());
  if (info.namespaced && req.namespace === undefined && req.name !== undefined) {
    throw new StatusError(notFound(info, req.name));
  }
  const ns = req.namespace ?? '';
  const table = tableMode(call);

  switch (req.verb) {
    case 'get': {
      const obj = mustGet(ctx, info, ns, req.name ?? '');
      if (table) return sendJson(res, 200, toTable(info, [obj], obj.metadata.resourceVersion ?? '', table, ctx.now()));
      return sendJson(res, 200, obj);
    }
    case 'list': {
      const { items, resourceVersion } = selected(ctx, call);
      if (table) return sendJson(res, 200, toTable(info, items, resourceVersion, table, ctx.now()));
      return sendJson(res, 200, listOf(info, items, resourceVersion));
    }
    case 'watch':
      return serveWatch(res, {
        store: ctx.store,
        info,
        ...(info.namespaced && req.namespace !== undefined ? { namespace: req.namespace } : {}),
        query,
        ...(table ? { table } : {}),
        now: ctx.now,
      });
    case 'create': {
      requireNamespace(ctx, info, req);
      const obj = objectBody(call);
      if (info.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw new StatusError(badRequest('the namespace of the provided object does not match the namespace sent on the request'));
      }
      if (!obj.metadata.name && !obj.metadata.generateName) {
        throw new StatusError(invalid(info.kind, info, '', 'metadata.name: Required value: name or generateName is required'));
      }
      return sendJson(res, 201, ctx.store.create(info, ns, obj));
    }
    case 'update': {
      const obj = objectBody(call);
      if (obj.metadata.name !== req.name) {
        throw new StatusError(badRequest('the name of the object does not match the name on the URL'));
      }
      return sendJson(res, 200, ctx.store.update(info, ns, req.name ?? '', obj));
    }
    case 'patch':
      return patch(res, call, ctx);
    case 'delete': {
      const gone = ctx.store.remove(info, ns, req.name ?? '');
      ctx.onDelete?.(info, gone);
      if (info.resource === 'pods') return sendJson(res, 200, gone);
      return sendJson(res, 200, success({ name: gone.metadata.name ?? '', ...(info.group ? { group: info.group } : {}), kind: info.resource, uid: gone.metadata.uid ?? '' }));
    }
    case 'deletecollection': {
      const { items, resourceVersion } = selected(ctx, call);
      const gone = items.map((o) => ctx.store.remove(info, o.metadata.namespace ?? '', o.metadata.name ?? ''));
      for (const o of gone) ctx.onDelete?.(info, o);
      return sendJson(res, 200, listOf(info, gone, resourceVersion));
    }
    default:
      throw new StatusError(methodNotAllowed());
  }
}

function patch(res: AnyResponse, call: RestCall, ctx: RestContext): void {
  const { info, req } = call;
  const ns = req.namespace ?? '';
  const name = req.name ?? '';
  const type = patchType(call.contentType);
  const body = parseBody(call.body.toString('utf8'));
  const current = ctx.store.get(info, ns, name);
  if (!current) {
    if (type !== 'application/apply-patch+yaml') throw new StatusError(notFound(info, name));
    // Server-side apply creates what does not exist yet.
    requireNamespace(ctx, info, req);
    const obj = asObject(body);
    obj.metadata = { ...obj.metadata, name };
    return sendJson(res, 201, ctx.store.create(info, ns, obj));
  }
  const patched = asObject(applyPatch(type, current as unknown as Json, body));
  if (patched.metadata.name !== name) throw new StatusError(badRequest('metadata.name cannot be changed by a patch'));
  // A patch is never refused for a stale resourceVersion unless the patch itself names one.
  const given = Array.isArray(body) || body === null || typeof body !== 'object' ? undefined : (body.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
  if (!given) patched.metadata.resourceVersion = current.metadata.resourceVersion;
  sendJson(res, 200, ctx.store.update(info, ns, name, patched));
}

function tableMode(call: RestCall): IncludeObject | undefined {
  if (!wantsAs(call.accept, 'Table', 'meta.k8s.io', ['v1', 'v1beta1'])) return undefined;
  const include = call.query.get('includeObject');
  return include === 'None' || include === 'Object' ? include : 'Metadata';
}

function selected(ctx: RestContext, call: RestCall): { items: KubeObject[]; resourceVersion: string } {
  const { info, req, query } = call;
  const byLabel = labelSelector(query.get('labelSelector'));
  const byField = fieldSelector(query.get('fieldSelector'));
  const { items, resourceVersion } = ctx.store.list(info, info.namespaced ? req.namespace : undefined);
  return { items: items.filter((o) => byLabel(o) && byField(o)), resourceVersion };
}

function listOf(info: ResourceInfo, items: KubeObject[], resourceVersion: string): object {
  return {
    kind: info.listKind,
    apiVersion: apiVersionOf(info),
    metadata: { resourceVersion },
    // Items of a typed list carry no kind/apiVersion on the wire.
    items: items.map(({ kind: _kind, apiVersion: _apiVersion, ...rest }) => rest),
  };
}

function mustGet(ctx: RestContext, info: ResourceInfo, ns: string, name: string): KubeObject {
  const obj = ctx.store.get(info, ns, name);
  if (!obj) throw new StatusError(notFound(info, name));
  return obj;
}

function requireNamespace(ctx: RestContext, info: ResourceInfo, req: ResourceRequest): void {
  if (!info.namespaced || req.namespace === undefined) return;
  const nsInfo = findResource('', 'v1', 'namespaces');
  if (nsInfo && !ctx.store.get(nsInfo, '', req.namespace)) {
    throw new StatusError(notFound(NAMESPACES, req.namespace));
  }
}

function objectBody(call: RestCall): KubeObject {
  const type = (call.contentType ?? 'application/json').split(';')[0]?.trim() ?? '';
  if (type === 'application/vnd.kubernetes.protobuf') return decodeKubeProtobuf(call.body);
  if (type !== 'application/json') throw new StatusError(unsupportedMediaType(type));
  return asObject(parseBody(call.body.toString('utf8')));
}

function asObject(v: unknown): KubeObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new StatusError(badRequest('the body must be a JSON object'));
  const obj = v as KubeObject;
  obj.metadata = obj.metadata !== null && typeof obj.metadata === 'object' ? obj.metadata : {};
  return obj;
}
