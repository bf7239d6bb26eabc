// Kubernetes `Status` objects (meta/v1) the way the real kube-apiserver words them, and one
// helper that writes one as an HTTP answer. kubectl turns these into its familiar error lines
// ("Error from server (NotFound): pods "x" not found"), so code, reason and message matter.

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** What both http.ServerResponse and the HTTP/2 compatibility response offer. */
export interface AnyResponse {
  statusCode: number;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  writeHead(code: number, headers?: Record<string, string | number>): unknown;
  write(chunk: string | Buffer): boolean;
  end(): unknown;
  end(chunk: string | Buffer): unknown;
  on(event: 'close' | 'finish', listener: () => void): unknown;
  destroy(): unknown;
}

/** Sends the status line and headers now, for answers that stream (watch, logs -f). */
export function startStream(res: AnyResponse, headers: Record<string, string>): void {
  res.writeHead(200, headers);
  // Both response kinds have flushHeaders at run time; @types/node lists it only for HTTP/1.
  (res as { flushHeaders?: () => void }).flushHeaders?.();
}

/** A resource as the messages name it: `pods`, `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

function qualified({ group, resource }: GroupResource): string {
  return group ? `${resource}.${group}` : resource;
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): KubeStatus {
  const status: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = details;
  return status;
}

export function success(details?: StatusDetails): KubeStatus {
  const status: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
  if (details) status.details = details;
  return status;
}

export function notFound(gr: GroupResource, name: string): KubeStatus {
  return failure(404, 'NotFound', `${qualified(gr)} "${name}" not found`, {
    name,
    ...(gr.group ? { group: gr.group } : {}),
    kind: gr.resource,
  });
}

/** For paths that name no known resource at all. */
export function pathNotFound(): KubeStatus {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function alreadyExists(gr: GroupResource, name: string): KubeStatus {
  return failure(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, {
    name,
    ...(gr.group ? { group: gr.group } : {}),
    kind: gr.resource,
  });
}

export function conflict(gr: GroupResource, name: string, why: string): KubeStatus {
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, {
    name,
    ...(gr.group ? { group: gr.group } : {}),
    kind: gr.resource,
  });
}

export function unauthorized(): KubeStatus {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export interface ForbiddenAsk {
  user: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** `pods "x" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"` */
export function forbidden(ask: ForbiddenAsk): KubeStatus {
  const resource = ask.subresource ? `${ask.resource}/${ask.subresource}` : ask.resource;
  const subject = ask.name ? `${qualified(ask)} "${ask.name}"` : qualified(ask);
  const scope = ask.namespace ? `in the namespace "${ask.namespace}"` : 'at the cluster scope';
  const message =
    `${subject} is forbidden: User "${ask.user}" cannot ${ask.verb} resource "${resource}" ` +
    `in API group "${ask.group}" ${scope}`;
  return failure(403, 'Forbidden', message, {
    ...(ask.name ? { name: ask.name } : {}),
    ...(ask.group ? { group: ask.group } : {}),
    kind: ask.resource,
  });
}

export function badRequest(message: string): KubeStatus {
  return failure(400, 'BadRequest', message);
}

export function invalid(kind: string, gr: GroupResource, name: string, message: string): KubeStatus {
  return failure(422, 'Invalid', `${kind} "${name}" is invalid: ${message}`, {
    name,
    ...(gr.group ? { group: gr.group } : {}),
    kind,
  });
}

export function methodNotAllowed(): KubeStatus {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

/** The double reads JSON only; kubectl's typed commands (e.g. `create secret`) send protobuf. */
export function unsupportedMediaType(contentType: string): KubeStatus {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (this test double reads no ${contentType || 'untyped'} bodies)`,
  );
}

export function internalError(message: string): KubeStatus {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function sendJson(res: AnyResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendStatus(res: AnyResponse, status: KubeStatus): void {
  sendJson(res, status.code, status);
}

/** The raw HTTP/1.1 answer for a refused upgrade: there is no ServerResponse on that path. */
export function statusResponseBytes(status: KubeStatus): string {
  const text = JSON.stringify(status);
  return (
    `HTTP/1.1 ${status.code} ${httpReason(status.code)}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(text)}\r\n` +
    'Connection: close\r\n\r\n' +
    text
  );
}

function httpReason(code: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    500: 'Internal Server Error',
  };
  return reasons[code] ?? 'Error';
}

/** Thrown by the store and the patch code; the HTTP layer answers with its Status. */
export class StatusError extends Error {
  constructor(readonly status: KubeStatus) {
    super(status.message ?? status.reason ?? 'error');
    this.name = 'StatusError';
  }
}
