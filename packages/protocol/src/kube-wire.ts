// What the proxy and the agent both need to speak Kubernetes' HTTP: the
// Status object errors travel as, and the headers that never cross a hop.
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'RequestEntityTooLarge',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
};

export function kubeStatusReason(code: number): string {
  return REASONS[code] ?? 'InternalError';
}

/** A meta/v1 Status, as kubectl prints errors. */
export function kubeStatus(code: number, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: kubeStatusReason(code), code };
}

/** Connection-level headers: meaningless (or forbidden, in HTTP/2) on the next hop. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
  'http2-settings',
]);

/**
 * Request headers never passed towards a cluster: hop-by-hop ones, HTTP/2
 * pseudo-headers, and any identity the client claims (Authorization,
 * Impersonate-*, our own x-ztsh-*), which only the proxy and agent set,
 * and the front-proxy headers (X-Remote-User, X-Remote-Group,
 * X-Remote-Extra-*), which an apiserver set up for an authenticating proxy
 * believes from any client certificate its request-header CA signed.
 * `name` is lowercase, as Node gives header names.
 */
export function isDroppedRequestHeader(name: string): boolean {
  return (
    name.startsWith(':') ||
    HOP_BY_HOP_HEADERS.has(name) ||
    name === 'authorization' ||
    name.startsWith('impersonate-') ||
    name.startsWith('x-ztsh-') ||
    name.startsWith('x-remote-')
  );
}
