// Strategic merge patch (application/strategic-merge-patch+json), the patch type client-side
// `kubectl apply`, `kubectl edit`, `label` and `annotate` send for built-in types. The real
// server takes merge keys from Go struct tags; here a short table of the common list fields does.
// Supported directives: null (delete key), $patch: replace|delete|merge, $retainKeys,
// $setElementOrder/<list>, $deleteFromPrimitiveList/<list>.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };

/** Lists of maps merged by a key instead of replaced. `ports` depends on the element shape. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  ownerReferences: 'uid',
  resourceClaims: 'name',
};
/** Lists of scalars merged as sets. */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

const isMap = (v: unknown): v is JsonMap => v !== null && typeof v === 'object' && !Array.isArray(v);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  if (field === 'ports') return items.some((i) => isMap(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  return MERGE_KEYS[field];
}

export function strategicMerge(original: Json, patch: Json): Json {
  if (!isMap(patch)) return patch;
  if (!isMap(original)) original = {};
  if (patch.$patch === 'replace') return withoutDirectives(patch);
  if (patch.$patch === 'delete') return null;

  const out: JsonMap = { ...original };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
    } else if (isMap(v)) {
      const merged = strategicMerge(out[k] ?? {}, v);
      if (merged === null) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) {
      out[k] = mergeList(k, Array.isArray(out[k]) ? (out[k] as Json[]) : [], v);
    } else {
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    const field = directiveField(k, '$setElementOrder/');
    if (field && Array.isArray(v) && Array.isArray(out[field])) out[field] = reorder(field, out[field] as Json[], v);
    const from = directiveField(k, '$deleteFromPrimitiveList/');
    if (from && Array.isArray(v) && Array.isArray(out[from])) {
      out[from] = (out[from] as Json[]).filter((x) => !v.includes(x));
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

function directiveField(key: string, prefix: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

function withoutDirectives(m: JsonMap): JsonMap {
  return Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('$')));
}

function mergeList(field: string, original: Json[], patch: Json[]): Json[] {
  if (patch.some((i) => isMap(i) && i.$patch === 'replace')) {
    return patch.filter((i) => !(isMap(i) && i.$patch === 'replace'));
  }
  if (MERGED_PRIMITIVE_LISTS.has(field) && patch.every((i) => !isMap(i))) {
    return [...original, ...patch.filter((i) => !original.includes(i))];
  }
  const key = mergeKeyFor(field, [...original, ...patch]);
  if (!key || !patch.every(isMap)) return patch.filter((i) => !(isMap(i) && '$patch' in i));

  const out = [...original];
  for (const item of patch as JsonMap[]) {
    const at = out.findIndex((o) => isMap(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) {
      out[at] = strategicMerge(out[at] ?? {}, item);
    } else {
      out.push(withoutDirectives(item));
    }
  }
  return out;
}

/** `$setElementOrder`: listed elements in the given order first, then the rest as they were. */
function reorder(field: string, items: Json[], order: Json[]): Json[] {
  const key = mergeKeyFor(field, items);
  const idOf = (x: Json): Json => (key && isMap(x) ? (x[key] ?? null) : x);
  const wanted = order.map(idOf);
  const listed = wanted.flatMap((id) => items.filter((i) => idOf(i) === id));
  return [...listed, ...items.filter((i) => !wanted.includes(idOf(i)))];
}

export type { Json, JsonMap };
