// What a kube request is, read the way the apiserver's RequestInfoFactory
// reads it: verb, API group and version, resource, subresource, namespace,
// name. It works on the canonical, decoded segments of kube-path.ts, which
// are exactly what the apiserver's URL.Path will split into, so the proxy
// and the cluster cannot disagree on what is asked. Forms the apiserver
// reads but serves nothing for (the removed /proxy/ verb path, segments
// after a subresource other than proxy) are refused instead of guessed at.

export interface KubeRequestInfo {
  isResourceRequest: boolean;
  /** Lowercase: get, list, watch, create, update, patch, delete, deletecollection; exec, attach, portforward, proxy for those subresources. */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** The decoded path the apiserver sees. */
  path: string;
}

export type KubeRequestParse = { ok: true; info: KubeRequestInfo } | { ok: false; message: string };

/** The methods kubectl and client-go use; any other is refused, as Go's RequestInfo would give it no verb. */
export const VERB_BY_METHOD: Readonly<Record<string, string>> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
/** Subresources that are actions of their own in roles. */
export const ACTION_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);
/** The subresources kubectl opens a stream on with a connection upgrade. */
export const CONNECT_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);
/** The kubelet endpoints that open a session in a container, lowercase (compared so, whatever the kubelet's router does with case). */
const KUBELET_SESSIONS = new Set(['run', 'exec', 'attach', 'portforward', 'cri']);
/** What a field selector may narrow a list to, as a name: plain names only, nothing a selector parser unescapes. */
const SELECTED_NAME = /^metadata\.name==?([A-Za-z0-9][A-Za-z0-9._:-]*)$/;

export function parseKubeRequest(method: string, segments: readonly string[], query: URLSearchParams): KubeRequestParse {
  const path = '/' + segments.join('/');
  const base: KubeRequestInfo = { isResourceRequest: false, verb: method.toLowerCase(), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path };
  const methodVerb = VERB_BY_METHOD[method];
  if (methodVerb === undefined) return { ok: false, message: `the method ${method} is not used with the Kubernetes API` };

  let parts = [...segments];
  const prefix = parts[0];
  if (parts.length < 3 || (prefix !== 'api' && prefix !== 'apis')) return { ok: true, info: base };
  parts = parts.slice(1);
  if (prefix === 'apis') {
    if (parts.length < 3) return { ok: true, info: base }; // /apis/<group>/<version>: discovery
    base.apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  base.isResourceRequest = true;
  base.apiVersion = parts[0]!;
  parts = parts.slice(1);
  base.verb = methodVerb;

  if (parts[0] === 'proxy') return { ok: false, message: 'the /proxy/ path form was removed from Kubernetes: use the proxy subresource (.../pods/<name>/proxy)' };
  let watchPath = false;
  if (parts[0] === 'watch') {
    if (parts.length < 2) return { ok: false, message: 'a /watch/ path names what to watch' };
    watchPath = true;
    base.verb = 'watch';
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
  if (parts.length > 3 && base.subresource !== 'proxy') {
    return { ok: false, message: `nothing is served after the subresource "${base.subresource}"` };
  }
  // Through nodes/<name>/proxy a role's proxy verb would reach the kubelet's
  // own exec, attach and run endpoints: sessions no one records.
  if (base.resource === 'nodes' && base.subresource === 'proxy' && KUBELET_SESSIONS.has((parts[3] ?? '').toLowerCase())) {
    return { ok: false, message: `the kubelet's /${parts[3]} is not reachable through ztsh: use kubectl exec, attach or port-forward, which are recorded` };
  }

  if (!watchPath && base.verb === 'get' && !base.name) {
    base.verb = query.get('watch') === 'true' ? 'watch' : 'list';
    // A list or watch narrowed to one object by field selector counts as that
    // name. The apiserver's selector parser sorts terms and unescapes "\,";
    // rather than guess along, only the plain one-term form narrows, and any
    // other selector naming metadata.name is refused.
    const selector = query.get('fieldSelector') ?? '';
    const m = SELECTED_NAME.exec(selector);
    if (m) base.name = m[1]!;
    else if (selector.includes('metadata.name')) {
      return { ok: false, message: 'a field selector on metadata.name is read only in its plain form, metadata.name=<name>, alone' };
    }
  }
  if (base.verb === 'delete' && !base.name) base.verb = 'deletecollection';
  if (ACTION_SUBRESOURCES.has(base.subresource)) base.verb = base.subresource;
  return { ok: true, info: base };
}
