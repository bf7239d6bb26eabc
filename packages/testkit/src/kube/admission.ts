// The first steps of every request, plain or upgrade: note it in `requests`, check the bearer
// token (401), read impersonation, and — for impersonated callers — check the RBAC table (403).
import { authenticate, headerLists, type Caller } from './auth.ts';
import type { DoubleState, SeenRequest } from './context.ts';
import { goRequestTarget } from './go-url.ts';
import { isAllowed } from './rbac.ts';
import { RequestInfoError, requestInfo, type RequestInfo } from './request-info.ts';
import { StatusError, forbidden, internalError } from './status.ts';

const CONNECT_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

export interface RawRequest {
  method?: string | undefined;
  httpVersion: string;
  rawHeaders: string[];
}

/**
 * The request target as Go's net/http reads it. A target Go would refuse
 * (a control character, a bad escape) is still noted, with its raw path and
 * a 400, so a test sees that it reached the apiserver at all.
 */
export function targetOf(raw: string | undefined): { url: { pathname: string; searchParams: URLSearchParams }; refusal?: string } {
  const target = goRequestTarget(raw ?? '/');
  if (target.ok) return { url: { pathname: target.path, searchParams: target.query } };
  return { url: { pathname: (raw ?? '/').split('?')[0]!, searchParams: new URLSearchParams() }, refusal: target.message };
}

export function recordRequest(state: DoubleState, req: RawRequest, url: { pathname: string; searchParams: URLSearchParams }): SeenRequest {
  const lists = headerLists(req.rawHeaders);
  const headers: Record<string, string> = {};
  for (const [name, values] of lists) headers[name] = values.join(', ');
  const impersonatedUser = lists.get('impersonate-user')?.[0];
  const seen: SeenRequest = {
    method: req.method ?? 'GET',
    httpVersion: req.httpVersion,
    path: url.pathname,
    query: url.searchParams,
    headers,
    ...(impersonatedUser !== undefined ? { impersonatedUser } : {}),
    impersonatedGroups: lists.get('impersonate-group') ?? [],
    ...(headers.upgrade ? { upgrade: headers.upgrade } : {}),
    time: state.now(),
  };
  state.requests.push(seen);
  return seen;
}

export function admit(state: DoubleState, seen: SeenRequest, rawHeaders: string[]): { caller: Caller; info: RequestInfo } {
  const caller = authenticate(headerLists(rawHeaders), state.opts.token);
  if (caller.kind === 'Status') throw new StatusError(caller);
  let info: RequestInfo;
  try {
    info = requestInfo(seen.method, seen.path, seen.query);
    seen.info = { ...info };
  } catch (err) {
    if (err instanceof RequestInfoError) throw new StatusError(internalError(err.message));
    throw err;
  }
  if (info.kind === 'resource' && CONNECT_SUBRESOURCES.has(info.subresource ?? '')) {
    // exec/attach/portforward are authorized as "create" whatever the HTTP method.
    info.verb = 'create';
  }
  if (caller.impersonated && info.kind === 'resource' && !isAllowed(state.opts.rbac, caller, info)) {
    throw new StatusError(
      forbidden({
        user: caller.user,
        verb: info.verb,
        group: info.group,
        resource: info.resource,
        ...(info.subresource ? { subresource: info.subresource } : {}),
        ...(info.namespace !== undefined ? { namespace: info.namespace } : {}),
        ...(info.name !== undefined ? { name: info.name } : {}),
      }),
    );
  }
  return { caller, info };
}
