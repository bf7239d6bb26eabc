import { describe, expect, it } from 'vitest';
import { isDroppedRequestHeader } from './kube-wire.ts';
import { ClusterLabels, ImpersonatedGroups, jsonHeader, readJsonHeader, TUNNEL_HEADERS } from './tunnel-headers.ts';

describe('tunnel headers', () => {
  it('are all dropped from a client request, so no client can set one', () => {
    for (const name of Object.values(TUNNEL_HEADERS)) expect(isDroppedRequestHeader(name), name).toBe(true);
  });

  it('round-trip the groups as JSON', () => {
    const value = jsonHeader(ImpersonatedGroups, ['dev', 'ops, "x"']);
    expect(readJsonHeader(ImpersonatedGroups, value, [])).toEqual(['dev', 'ops, "x"']);
  });

  it('give the fallback when absent and undefined for anything that is not the schema', () => {
    expect(readJsonHeader(ImpersonatedGroups, undefined, [])).toEqual([]);
    for (const bad of ['', 'dev', '{"a":1}', '[1]', '["a",null]', 'null', '["a"', '"a"']) {
      expect(readJsonHeader(ImpersonatedGroups, bad, []), bad).toBeUndefined();
    }
    expect(readJsonHeader(ImpersonatedGroups, ['["a"]', '["b"]'], [])).toBeUndefined();
  });

  it('bound label names and values as Kubernetes does', () => {
    expect(readJsonHeader(ClusterLabels, '{"env":"dev"}', {})).toEqual({ env: 'dev' });
    expect(readJsonHeader(ClusterLabels, JSON.stringify({ env: 'x'.repeat(64) }), {})).toBeUndefined();
    expect(readJsonHeader(ClusterLabels, '{"env":["dev"]}', {})).toBeUndefined();
    expect(readJsonHeader(ClusterLabels, '["dev"]', {})).toBeUndefined();
  });

  it('refuse to write a value the reader would refuse', () => {
    expect(() => jsonHeader(ImpersonatedGroups, [1 as unknown as string])).toThrow();
  });
});
