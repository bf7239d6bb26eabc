// How Go's net/http reads a request target, which is what kube-apiserver
// decides on: url.ParseRequestURI, then URL.Path (every %XX decoded, %2F
// into a "/" like any other) and URL.Query() (url.ParseQuery: "+" is a
// space, a pair holding ";" or a bad escape is dropped). Dot segments and
// doubled slashes are NOT cleaned: the apiserver's RequestInfo and its
// router split the decoded path as it is. The test double reads targets
// only through here, so it decides the way a real apiserver would, and a
// proxy that forwards one thing while judging another is caught.

export type GoTarget = { ok: true; path: string; query: URLSearchParams } | { ok: false; message: string };

function isCtl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

/** Go's unescape: %XX must be two hex digits; "+" is a space only in query components. */
function goUnescape(s: string, query: boolean): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch === 0x2b && query) bytes.push(0x20);
    else for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
  }
  // Go strings are bytes; names and paths the double serves are UTF-8.
  return Buffer.from(bytes).toString('utf8');
}

/** url.ParseQuery, keeping the pairs Go keeps, in order. */
export function goParseQuery(raw: string): URLSearchParams {
  const out = new URLSearchParams();
  for (const pair of raw.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = goUnescape(eq < 0 ? pair : pair.slice(0, eq), true);
    const value = goUnescape(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (key === undefined || value === undefined) continue;
    out.append(key, value);
  }
  return out;
}

/** url.ParseRequestURI for an origin-form target ("/path?query"). */
export function goRequestTarget(raw: string): GoTarget {
  for (let i = 0; i < raw.length; i++) {
    if (isCtl(raw.charCodeAt(i))) return { ok: false, message: 'net/url: invalid control character in URL' };
  }
  if (!raw.startsWith('/')) return { ok: false, message: `parse "${raw}": invalid URI for request` };
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const path = goUnescape(rawPath, false);
  if (path === undefined) return { ok: false, message: `parse "${raw}": invalid URL escape` };
  return { ok: true, path, query: goParseQuery(q < 0 ? '' : raw.slice(q + 1)) };
}

/** strings.Split(strings.Trim(path, "/"), "/"): the apiserver's splitPath. Inner empty segments stay. */
export function goSplitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

/** Convert_Slice_string_To_bool: only absence, "0" and (any case) "false" are false. */
export function goQueryBool(values: string[]): boolean {
  if (values.length === 0) return false;
  const first = values[0]!;
  return !(first === '0' || first.toLowerCase() === 'false');
}
