// Plain HTTP requests (HTTP/2 or HTTP/1.1): record → authenticate → authorize → discovery,
// OpenAPI, health, pod logs, or the REST verbs. Every failure goes back as a `Status`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { discovery } from './discovery.ts';
import { openapi } from './openapi.ts';
import { handleRest } from './rest.ts';
import { findResource } from './resources.ts';
import type { DoubleState } from './context.ts';
import { admit, recordRequest, targetOf } from './admission.ts';
import {
  StatusError,
  badRequest,
  internalError,
  notFound,
  pathNotFound,
  sendJson,
  sendStatus,
  type AnyResponse,
} from './status.ts';

const MAX_BODY = 8 * 1024 * 1024;

/**
 * The double stands in for an apiserver behind the ztsh proxy, which refuses SPDY (a real
 * apiserver still takes it). exec/attach/cp use WebSocket from kubectl 1.30 on; port-forward
 * from 1.31 on, or 1.30 with KUBECTL_PORT_FORWARD_WEBSOCKETS=true.
 */
export function spdyRefusal(subresource: string): StatusError {
  const hint =
    subresource === 'portforward'
      ? 'port-forward needs kubectl 1.31 or newer (1.30: set KUBECTL_PORT_FORWARD_WEBSOCKETS=true)'
      : 'use kubectl 1.30 or newer, which speaks WebSocket (v5.channel.k8s.io)';
  return new StatusError(badRequest(`SPDY is not supported by this test double: ${hint}`));
}

export async function handleRequest(
  state: DoubleState,
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): Promise<void> {
  const { url, refusal } = targetOf(req.url);
  const seen = recordRequest(state, req, url);
  res.on('finish', () => {
    seen.status = res.statusCode;
  });
  try {
    if (refusal) throw new StatusError(badRequest(refusal));
    const { info } = admit(state, seen, req.rawHeaders);
    if (info.kind === 'nonresource') return nonResource(state, req, res, url.pathname);

    const resource = findResource(info.group, info.version, info.resource);
    if (!resource) throw new StatusError(pathNotFound());
    const body = ['POST', 'PUT', 'PATCH'].includes(req.method ?? '') ? await readBody(req) : Buffer.alloc(0);
    if (resource.resource === 'pods' && info.subresource && info.subresource !== 'status') {
      const ns = info.namespace ?? '';
      const pod = state.store.get(resource, ns, info.name ?? '');
      if (!pod) throw new StatusError(notFound(resource, info.name ?? ''));
      if (info.subresource === 'log') {
        const container = url.searchParams.get('container');
        const containers = ((pod.spec as { containers?: { name: string }[] }).containers ?? []).map((c) => c.name);
        if (container && !containers.includes(container)) {
          throw new StatusError(badRequest(`container ${container} is not valid for pod ${info.name ?? ''}`));
        }
        if (url.searchParams.get('previous') === 'true') {
          throw new StatusError(badRequest(`previous terminated container "${container ?? containers[0] ?? ''}" in pod "${info.name ?? ''}" not found`));
        }
        return state.logs.serve(res, ns, info.name ?? '', url.searchParams);
      }
      if (['exec', 'attach', 'portforward'].includes(info.subresource)) throw spdyRefusal(info.subresource);
      throw new StatusError(pathNotFound());
    }
    handleRest(
      res,
      {
        info: resource,
        req: info,
        query: url.searchParams,
        accept: header(req, 'accept'),
        contentType: header(req, 'content-type'),
        body,
      },
      {
        store: state.store,
        now: state.now,
        onDelete: (r, obj) => {
          if (r.resource !== 'pods') return;
          state.logs.forget(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
          state.podFiles.forget(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
        },
      },
    );
  } catch (err) {
    fail(res, err);
  }
}

function nonResource(state: DoubleState, req: IncomingMessage | Http2ServerRequest, res: AnyResponse, path: string): void {
  const found = discovery(path, header(req, 'accept'), state.serverAddress());
  if (found) return sendJson(res, 200, found.body, found.contentType);
  if (path.startsWith('/openapi/')) {
    const doc = openapi(path);
    if (doc) return sendJson(res, 200, doc);
  }
  if (['/healthz', '/livez', '/readyz'].includes(path)) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('ok');
    return;
  }
  throw new StatusError(pathNotFound());
}

export function fail(res: AnyResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof StatusError) return sendStatus(res, err.status);
  sendStatus(res, internalError((err as Error).message));
}

function header(req: IncomingMessage | Http2ServerRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

async function readBody(req: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > MAX_BODY) throw new StatusError(badRequest('request body too large'));
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
