// Parses a Kubernetes API request the way the apiserver's RequestInfo does:
// verb, API group and version, resource, subresource, namespace, name. The
// proxy authorizes on this, so it must read paths exactly as the apiserver
// will: a disagreement would let a request be judged as something it is not.

export interface KubeRequestInfo {
  isResourceRequest: boolean;
  /** Lowercase: get, list, watch, create, update, patch, delete, deletecollection; exec, attach, portforward for those subresources. */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

const VERB_BY_METHOD: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** Subresources that are actions of their own in roles. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
const ACTION_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);

export function parseKubeRequest(method: string, path: string, query: URLSearchParams): KubeRequestInfo {
  const base: KubeRequestInfo = {
    isResourceRequest: false,
    verb: method.toLowerCase(),
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    namespace: '',
    name: '',
    path,
  };
  let parts = path.split('/').filter((p) => p !== '');
  const prefix = parts[0];
  if (prefix !== 'api' && prefix !== 'apis') return base;
  if (prefix === 'api') {
    if (parts.length < 2) return base; // /api: discovery
    base.apiVersion = parts[1]!;
    parts = parts.slice(2);
  } else {
    if (parts.length < 3) return base; // /apis, /apis/<group>: discovery
    base.apiGroup = parts[1]!;
    base.apiVersion = parts[2]!;
    parts = parts.slice(3);
  }
  if (parts.length === 0) return base; // /api/v1: resource list

  base.isResourceRequest = true;
  base.verb = VERB_BY_METHOD[method.toUpperCase()] ?? method.toLowerCase();

  // Deprecated /watch/ prefix: GET /api/v1/watch/namespaces/ns/pods
  let watchPath = false;
  if (parts[0] === 'watch') {
    watchPath = true;
    parts = parts.slice(1);
  }

  if (parts[0] === 'namespaces' && parts.length > 1) {
    base.namespace = parts[1]!;
    // Another step after the namespace name, other than the namespace's own
    // subresources, is a resource in its own right inside it.
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
  }
  base.resource = parts[0] ?? '';
  base.name = parts[1] ?? '';
  base.subresource = parts[2] ?? '';

  if (watchPath) base.verb = 'watch';
  if (base.verb === 'get' && !base.name) base.verb = 'list';
  if ((base.verb === 'list' || base.verb === 'get') && isTrue(query.get('watch'))) base.verb = 'watch';
  if (base.verb === 'delete' && !base.name) base.verb = 'deletecollection';

  // list/watch narrowed to one object by field selector count as that name.
  if ((base.verb === 'list' || base.verb === 'watch' || base.verb === 'deletecollection') && !base.name) {
    const selector = query.get('fieldSelector');
    const m = selector ? /^metadata\.name==?([^,]+)$/.exec(selector) : null;
    if (m) base.name = m[1]!;
  }

  if (ACTION_SUBRESOURCES.has(base.subresource)) base.verb = base.subresource;
  return base;
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}
