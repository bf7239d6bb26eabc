// Plain kube requests (get, list, watch, logs, apply, delete…): checked,
// then sent through the cluster's tunnel as one HTTP/2 stream. Bodies are
// piped both ways as they come, never buffered, so watches and `logs -f`
// stream event by event.
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { HOP_BY_HOP_HEADERS } from '@ztsh/protocol';
import { checkKubeAccess, upstreamHeaders, type KubeDeps } from './kube-access.ts';
import { sendStatus } from './kube-status.ts';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export function forwardKube(deps: KubeDeps, req: Req, res: Res): void {
  const access = checkKubeAccess(deps, req.socket as TLSSocket, req.method ?? 'GET', req.url ?? '/', req.headers);
  if (!access.ok) {
    sendStatus(res as never, access.code, access.message);
    return;
  }
  let stream;
  try {
    stream = access.tunnel.session.request({
      ...upstreamHeaders(req.headers, access),
      [constants.HTTP2_HEADER_METHOD]: req.method ?? 'GET',
      [constants.HTTP2_HEADER_PATH]: access.upstreamPath,
    }, { endStream: false }); // Node ends GET and DELETE streams at once by default; the body pipe ends it
  } catch (error) {
    deps.log.warn({ err: error, cluster: access.tunnel.cluster }, 'tunnel request failed');
    sendStatus(res as never, 503, `cluster "${access.tunnel.cluster}" is offline: its agent is not connected`);
    return;
  }
  req.pipe(stream);
  stream.on('response', (headers) => {
    const status = Number(headers[constants.HTTP2_HEADER_STATUS] ?? 502);
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || name.startsWith(':') || HOP_BY_HOP_HEADERS.has(name)) continue;
      out[name] = value as string | string[];
    }
    res.writeHead(status, out);
    // Send headers now: a watch may not write its first event for minutes.
    (res as { flushHeaders?: () => void }).flushHeaders?.();
    stream.pipe(res as NodeJS.WritableStream);
  });
  stream.on('error', (error) => {
    deps.log.warn({ err: error, cluster: access.tunnel.cluster }, 'tunnel stream failed');
    sendStatus(res as never, 502, `the agent of cluster "${access.tunnel.cluster}" did not answer`);
  });
  res.on('close', () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  });
}
