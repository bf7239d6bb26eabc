// How a request body crosses a hop. A body sent with no length and no
// chunked encoding on a kept-alive HTTP/1.1 connection is not a body to the
// next server: it is the start of the next request, which would then carry
// the sender's credentials (a proxy's client certificate, an agent's
// service-account token). So every hop frames every body, and a GET or
// HEAD carries none.
import type { IncomingHttpHeaders } from 'node:http';

/** Methods whose requests carry no body through ztsh. */
export const BODILESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * Whether a request that arrived may have a body: a length above zero,
 * chunked encoding (HTTP/1.1), or an HTTP/2 stream not ended with its headers.
 */
export function mayHaveBody(headers: IncomingHttpHeaders, endedWithHeaders: boolean | undefined): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  if (headers['transfer-encoding'] !== undefined) return true;
  return endedWithHeaders === false;
}

/**
 * The framing headers for the next hop, set on `out` (which holds no
 * transfer-encoding, a hop-by-hop header): a body of known length keeps its
 * Content-Length; any other body goes chunked. Returns whether a body is sent.
 */
export function frameBody(method: string, headers: IncomingHttpHeaders, out: Record<string, string | string[]>): boolean {
  delete out['transfer-encoding'];
  if (BODILESS_METHODS.has(method)) {
    delete out['content-length'];
    return false;
  }
  const length = headers['content-length'];
  if (length !== undefined && /^\d+$/.test(length)) {
    out['content-length'] = length;
    return true;
  }
  delete out['content-length'];
  out['transfer-encoding'] = 'chunked';
  return true;
}
