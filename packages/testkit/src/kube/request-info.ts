// Turns a request path + method into what RBAC and the handlers reason about: verb, API group,
// version, namespace, resource, name, subresource — following kube-apiserver's RequestInfo rules
// (e.g. /api/v1/namespaces/x is the namespace object "x", /api/v1/namespaces/x/pods are pods in "x").

export interface ResourceRequest {
  kind: 'resource';
  verb: string;
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

export interface NonResourceRequest {
  kind: 'nonresource';
  verb: string;
  path: string;
}

export type RequestInfo = ResourceRequest | NonResourceRequest;

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const lowerMethod = method.toLowerCase();
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    version = parts[2];
    rest = parts.slice(3);
  } else {
    return { kind: 'nonresource', verb: lowerMethod, path };
  }
  if (!version || rest.length === 0) return { kind: 'nonresource', verb: lowerMethod, path };

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2] ?? '')) rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  const name = rest[1];
  const subresource = rest[2];
  // Like kube-apiserver, /api/v1/namespaces/x has namespace "x" too (RBAC and messages say so).

  const watching = ['1', 'true'].includes(query.get('watch') ?? '');
  let verb: string;
  switch (lowerMethod) {
    case 'get':
    case 'head':
      verb = watching ? 'watch' : name ? 'get' : 'list';
      break;
    case 'post':
      verb = 'create';
      break;
    case 'put':
      verb = 'update';
      break;
    case 'patch':
      verb = 'patch';
      break;
    case 'delete':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = lowerMethod;
  }
  return {
    kind: 'resource',
    verb,
    group,
    version,
    resource,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}
