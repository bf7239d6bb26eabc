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
 * fields.ParseSelector, then RequiresExactMatch("metadata.name") and IsValidPathSegmentName,
 * as the apiserver narrows a list to a name: terms split on unescaped ","; sorted; each split
 * at its first "!=", "==" or "=" (in that order at each position); values unescaped ("\\",
 * "\,", "\=" only; a bare "," or "=" or a lone "\" fails the whole selector); the first
 * "==" or "=" term on metadata.name wins; the name must not be "." or ".." nor hold "/" or "%".
 */
function exactName(selector: string | null): string | undefined {
  if (!selector) return undefined;
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i]!;
    if (inSlash) inSlash = false;
    else if (ch === '\\') inSlash = true;
    else if (ch === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  // Go sorts by bytes; these are compared as UTF-16 units, the same for ASCII.
  terms.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let name: string | undefined;
  for (const term of terms) {
    if (term === '') continue;
    const split = splitTerm(term);
    if (!split) return undefined;
    const value = unescapeValue(split.rhs);
    if (value === undefined) return undefined;
    if (name === undefined && split.op !== '!=' && split.lhs === 'metadata.name') name = value;
  }
  if (name === undefined || name === '.' || name === '..' || name.includes('/') || name.includes('%')) return undefined;
  return name;
}

function splitTerm(term: string): { lhs: string; op: string; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

function unescapeValue(s: string): string | undefined {
  let out = '';
  let inSlash = false;
  for (const ch of s) {
    if (inSlash) {
      if (ch !== '\\' && ch !== ',' && ch !== '=') return undefined;
      out += ch;
      inSlash = false;
    } else if (ch === '\\') inSlash = true;
    else if (ch === ',' || ch === '=') return undefined;
    else out += ch;
  }
  return inSlash ? undefined : out;
}
