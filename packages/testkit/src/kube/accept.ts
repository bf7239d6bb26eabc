// Reads the Accept header the way the apiserver negotiates: a comma-separated list of media
// types whose parameters (as=Table;v=v1;g=meta.k8s.io) pick a *representation* of the answer.

export interface MediaType {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): MediaType[] {
  if (!header) return [];
  return header.split(',').map((part) => {
    const [type = '', ...rest] = part.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).toLowerCase()] = p.slice(eq + 1);
    }
    return { type: type.toLowerCase(), params };
  });
}

/** The first entry asking for `as=<kind>` in API group `g` (any of `versions`), in the client's order. */
export function wantsAs(header: string | undefined, kind: string, group: string, versions: string[]): string | undefined {
  for (const m of parseAccept(header)) {
    if (m.type !== 'application/json' && m.type !== '*/*') continue;
    const v = m.params.v;
    if (m.params.as === kind && m.params.g === group && v && versions.includes(v)) return v;
  }
  return undefined;
}
