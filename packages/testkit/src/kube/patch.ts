// PATCH bodies by Content-Type, as the apiserver accepts them: JSON patch (RFC 6902), JSON merge
// patch (RFC 7386), strategic merge patch, and server-side apply. Apply here is a simplification:
// the applied configuration is strategically merged onto the live object (no field ownership,
// so fields dropped from the applied file stay on the server).
import { StatusError, badRequest, failure, unsupportedMediaType } from './status.ts';
import { strategicMerge, type Json, type JsonMap } from './strategic-merge.ts';

export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

const isMap = (v: unknown): v is JsonMap => v !== null && typeof v === 'object' && !Array.isArray(v);

export function patchType(contentType: string | undefined): string {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!PATCH_TYPES.includes(type)) throw new StatusError(unsupportedMediaType(type));
  return type;
}

export function parseBody(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    // Real apply-patch bodies may be YAML; kubectl sends JSON (which is YAML too).
    throw new StatusError(badRequest('the double accepts JSON bodies only (kubectl sends JSON)'));
  }
}

export function applyPatch(type: string, current: Json, patch: Json): Json {
  switch (type) {
    case 'application/json-patch+json':
      if (!Array.isArray(patch)) throw new StatusError(badRequest('json patch must be an array of operations'));
      return jsonPatch(current, patch);
    case 'application/merge-patch+json':
      return mergePatch(current, patch);
    default: // strategic merge and (simplified) apply
      return strategicMerge(current, patch);
  }
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return patch;
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

export function jsonPatch(doc: Json, ops: Json[]): Json {
  let root = structuredClone(doc);
  for (const raw of ops) {
    if (!isMap(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new StatusError(badRequest(`invalid JSON patch operation: ${JSON.stringify(raw)}`));
    }
    const { op, path } = raw;
    switch (op) {
      case 'add':
        root = put(root, path, structuredClone(raw.value ?? null), 'add');
        break;
      case 'replace':
        root = put(root, path, structuredClone(raw.value ?? null), 'replace');
        break;
      case 'remove':
        root = remove(root, path);
        break;
      case 'copy':
      case 'move': {
        const from = String(raw.from ?? '');
        const value = structuredClone(get(root, from));
        if (op === 'move') root = remove(root, from);
        root = put(root, path, value, 'add');
        break;
      }
      case 'test':
        if (JSON.stringify(get(root, path)) !== JSON.stringify(raw.value)) {
          throw new StatusError(failure(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${path} failed`));
        }
        break;
      default:
        throw new StatusError(badRequest(`unknown JSON patch operation ${JSON.stringify(op)}`));
    }
  }
  return root;
}

function tokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new StatusError(badRequest(`invalid JSON pointer ${JSON.stringify(path)}`));
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function missing(path: string): StatusError {
  return new StatusError(failure(422, 'Invalid', `the server rejected our request due to an error in our request: path ${path} does not exist`));
}

function get(root: Json, path: string): Json {
  let cur: Json | undefined = root;
  for (const t of tokens(path)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isMap(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw missing(path);
  }
  return cur;
}

function parentOf(root: Json, path: string): { parent: Json; last: string } {
  const ts = tokens(path);
  const last = ts.pop();
  if (last === undefined) throw new StatusError(badRequest('cannot patch the document root'));
  const parentPath = ts.map((t) => `/${t.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  return { parent: get(root, parentPath), last };
}

function put(root: Json, path: string, value: Json, mode: 'add' | 'replace'): Json {
  if (path === '') return value;
  const { parent, last } = parentOf(root, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (mode === 'replace' && i >= parent.length)) throw missing(path);
    parent.splice(i, mode === 'replace' ? 1 : 0, value);
  } else if (isMap(parent)) {
    if (mode === 'replace' && !(last in parent)) throw missing(path);
    parent[last] = value;
  } else {
    throw missing(path);
  }
  return root;
}

function remove(root: Json, path: string): Json {
  const { parent, last } = parentOf(root, path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw missing(path);
    parent.splice(i, 1);
  } else if (isMap(parent) && last in parent) {
    delete parent[last];
  } else {
    throw missing(path);
  }
  return root;
}
