// Turns a request into what RBAC and the handlers reason about: verb, API group, version,
// namespace, resource, name, subresource — following kube-apiserver's RequestInfoFactory
// step by step, on the path as Go decoded it (go-url.ts): /api/v1/namespaces/x is the
// namespace object "x", /api/v1/namespaces/x/pods are pods in "x", /watch/ and /proxy/ are
// verbs, a name narrowed by a metadata.name field selector counts as the name.
import { goQueryBool, goSplitPath } from './go-url.ts';

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
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
const METHOD_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export class RequestInfoError extends Error {}

/** `path` is Go's decoded URL.Path; `query` its URL.Query(). */
export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const nonResource: NonResourceRequest = { kind: 'nonresource', verb: method.toLowerCase(), path };
  let parts = goSplitPath(path);
  if (parts.length < 3) return nonResource;
  const prefix = parts[0];
  if (prefix !== 'api' && prefix !== 'apis') return nonResource;
  parts = parts.slice(1);
  let group = '';
  if (prefix === 'apis') {
    if (parts.length < 3) return nonResource;
    group = parts[0]!;
    parts = parts.slice(1);
  }
  const version = parts[0]!;
  parts = parts.slice(1);

  let verb: string;
  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) throw new RequestInfoError(`unable to determine kind and namespace from url ${path}`);
    verb = parts[0]!;
    parts = parts.slice(1);
  } else {
    verb = METHOD_VERBS[method] ?? '';
  }

  let namespace: string | undefined;
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      namespace = parts[1]!;
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  let resource = '';
  let name: string | undefined;
  let subresource: string | undefined;
  if (parts.length >= 3 && verb !== 'proxy') subresource = parts[2];
  if (parts.length >= 2) name = parts[1];
  if (parts.length >= 1) resource = parts[0]!;
  if (name === '') name = undefined;

  if (!name && verb === 'get') {
    verb = goQueryBool(query.getAll('watch')) ? 'watch' : 'list';
    const selected = exactName(query.get('fieldSelector'));
    if (selected !== undefined) name = selected;
  }
  if (!name && verb === 'delete') verb = 'deletecollection';
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

/**
 * fields.ParseSelector + RequiresExactMatch("metadata.name") + IsValidPathSegmentName:
 * terms split on unescaped ",", each "key=value" or "key==value" ("!=" matches nothing
 * exactly), values unescaped ("\\," "\\=" "\\\\"); the name must not be "." or ".." nor
 * hold "/" or "%".
 */
function exactName(selector: string | null): string | undefined {
  if (!selector) return undefined;
  const terms: string[] = [];
  let current = '';
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i]!;
    if (ch === '\\' && i + 1 < selector.length) {
      current += ch + selector[i + 1]!;
      i++;
    } else if (ch === ',') {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  for (const term of terms) {
    const m = /^(.*?)(!=|==|=)(.*)$/.exec(term);
    if (!m || m[2] === '!=' || m[1] !== 'metadata.name') continue;
    const raw = m[3]!;
    let value = '';
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === '\\') {
        const next = raw[i + 1];
        if (next !== '\\' && next !== ',' && next !== '=') return undefined;
        value += next;
        i++;
      } else value += raw[i];
    }
    if (value === '.' || value === '..' || value.includes('/') || value.includes('%')) return undefined;
    return value;
  }
  return undefined;
}
