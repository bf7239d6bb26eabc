// The one canonical form of a kube request target. The apiserver decodes a
// path once (Go's URL.Path: %73 is "s", %2F is "/") and then decides what
// the request is; a proxy that judged the raw bytes would authorize one
// request and forward another. So the proxy decodes once, here, refuses
// whatever cannot be read one way only, and from then on every decision,
// the forwarded path and the audit event use what this returns.
//
//   /k8s/<cluster>/<segment>/<segment>...?<query>
//
// Refused (400): bytes outside printable ASCII, a bad or truncated escape,
// an escape that decodes to "/" or "\", a control character or bytes that
// are not UTF-8, an empty segment (// or a trailing /), "." and ".."
// (written plainly or encoded), a fragment; in the query, a ";" (Go drops
// such pairs, so the two sides would read different queries), and a repeated
// or non-boolean value of a parameter the decision reads.

export interface CanonicalTarget {
  cluster: string;
  /** Decoded path segments after the cluster, e.g. ["api", "v1", "namespaces", "default", "pods"]. */
  segments: string[];
  /** The decoded path, "/" + segments joined: what the apiserver's URL.Path will be. */
  path: string;
  /** The query as decided on. */
  query: URLSearchParams;
  /** Exactly what is sent upstream: the path re-encoded and the query re-serialized from what was decided on. */
  upstreamPath: string;
}

export type CanonicalResult = { ok: true; target: CanonicalTarget } | { ok: false; code: 400 | 404; message: string; reason: string };

const CLUSTER = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Characters a path segment carries as they are (RFC 3986 pchar without "%"); the rest is percent-encoded. */
const PLAIN = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
/** Query parameters the proxy's decision or its session record reads: each may appear once. */
const SINGLE_VALUED = ['watch', 'fieldSelector', 'container', 'tty', 'stdin', 'stdout', 'stderr'];
/** Boolean parameters, normalized to "true" or "false" before they are forwarded. */
const BOOLEANS = ['watch', 'tty', 'stdin', 'stdout', 'stderr'];

const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(message: string, reason = 'non_canonical_path'): CanonicalResult {
  return { ok: false, code: 400, message, reason };
}

/** Printable ASCII only (0x21-0x7e): no space, no control character, nothing a decoder might read two ways. */
function printableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/** Decodes %XX escapes (and "+" as a space when `plusIsSpace`); undefined for a bad escape or bytes that are not UTF-8. */
export function percentDecode(raw: string, plusIsSpace = false): string | undefined {
  if (!raw.includes('%') && !(plusIsSpace && raw.includes('+'))) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch === '+' && plusIsSpace) {
      bytes.push(0x20);
    } else {
      bytes.push(ch.charCodeAt(0));
    }
  }
  try {
    return utf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/** Percent-encodes what a path segment may not carry plainly. Go's URL.Path of the result is `segment` again. */
export function encodeSegment(segment: string): string {
  let out = '';
  for (const ch of segment) {
    if (PLAIN.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * Reads a request target of the kube front door. `url` is the request
 * target as it arrived (HTTP/1.1 request line or HTTP/2 :path).
 */
export function canonicalKubeTarget(url: string): CanonicalResult {
  if (!url.startsWith('/k8s/')) return { ok: false, code: 404, message: 'not a cluster path: use /k8s/<cluster>/...', reason: 'not_found' };
  if (!printableAscii(url)) return refuse('the request path holds a space, a control character or a byte outside ASCII: encode it');
  if (url.includes('#')) return refuse('a request path carries no fragment (#)');
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);

  const rawSegments = rawPath.split('/').slice(2); // '' and 'k8s'
  const cluster = rawSegments.shift() ?? '';
  if (!CLUSTER.test(cluster)) return { ok: false, code: 404, message: 'not a cluster path: use /k8s/<cluster>/... with a cluster name as ztsh kube ls shows it', reason: 'not_found' };
  if (rawSegments.length === 0) return { ok: false, code: 404, message: `nothing at the root of cluster "${cluster}": kubectl asks for /version, /api or /apis`, reason: 'not_found' };

  const segments: string[] = [];
  for (const raw of rawSegments) {
    if (raw === '') return refuse('empty path segments (// or a trailing /) are not accepted');
    const segment = percentDecode(raw);
    if (segment === undefined) return refuse(`bad percent-encoding in path segment "${raw}"`);
    if (segment.includes('/') || segment.includes('\\')) return refuse('an encoded "/" or "\\" in a path segment is not accepted');
    if (hasControl(segment)) return refuse('a control character in the request path is not accepted');
    if (segment === '.' || segment === '..') return refuse('"." and ".." path segments are not accepted: send the path they stand for');
    segments.push(segment);
  }

  const query = new URLSearchParams();
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) return refuse('";" in the query is not accepted: encode it as %3B');
    const eq = pair.indexOf('=');
    const name = percentDecode(eq < 0 ? pair : pair.slice(0, eq), true);
    const value = percentDecode(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (name === undefined || value === undefined) return refuse(`bad percent-encoding in the query near "${pair.slice(0, 40)}"`);
    query.append(name, value);
  }
  for (const name of SINGLE_VALUED) {
    if (query.getAll(name).length > 1) return refuse(`the query parameter "${name}" may be given once`);
  }
  for (const name of BOOLEANS) {
    const value = query.get(name);
    if (value === null) continue;
    if (value === 'true' || value === '1') query.set(name, 'true');
    else if (value === 'false' || value === '0') query.set(name, 'false');
    else return refuse(`the query parameter "${name}" must be true or false`);
  }

  const path = '/' + segments.join('/');
  const search = query.toString();
  const upstreamPath = '/' + segments.map(encodeSegment).join('/') + (search ? `?${search}` : '');
  return { ok: true, target: { cluster, segments, path, query, upstreamPath } };
}
