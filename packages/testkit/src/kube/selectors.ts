// Label and field selectors as kubectl sends them (`-l app=web,tier!=db,env in (a,b)`,
// `--field-selector metadata.name=x`). Field paths are read from the object by dotted path.
import { StatusError, badRequest } from './status.ts';
import type { KubeObject } from './store.ts';

type Test = (obj: KubeObject) => boolean;

export function labelSelector(text: string | null): Test {
  if (!text) return () => true;
  const tests = splitTopLevel(text).map((term): Test => {
    const labels = (o: KubeObject) => o.metadata.labels ?? {};
    let m = /^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$/.exec(term);
    if (m) {
      const key = m[1] ?? '';
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      const inSet = m[2] === 'in';
      return (o) => {
        const v = labels(o)[key];
        return inSet ? v !== undefined && values.includes(v) : v === undefined || !values.includes(v);
      };
    }
    m = /^\s*([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)\s*$/.exec(term);
    if (m) {
      const [, key = '', op, value = ''] = m;
      return op === '!=' ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value;
    }
    m = /^\s*(!?)([^\s!=]+)\s*$/.exec(term);
    if (m) {
      const key = m[2] ?? '';
      return m[1] ? (o) => !(key in labels(o)) : (o) => key in labels(o);
    }
    throw new StatusError(badRequest(`unable to parse requirement: ${JSON.stringify(term)}`));
  });
  return (o) => tests.every((t) => t(o));
}

export function fieldSelector(text: string | null): Test {
  if (!text) return () => true;
  const tests = text.split(',').map((term): Test => {
    const m = /^\s*([^!=]+?)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (!m) throw new StatusError(badRequest(`invalid selector: '${text}'; can't understand '${term}'`));
    const [, path = '', op, value = ''] = m;
    return (o) => (String(readPath(o, path) ?? '') === value) === (op !== '!=');
  });
  return (o) => tests.every((t) => t(o));
}

function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.filter((s) => s.trim() !== '');
}
