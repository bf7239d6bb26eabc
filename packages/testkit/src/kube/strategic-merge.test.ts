import { describe, expect, it } from 'vitest';
import { jsonPatch, mergePatch } from './patch.ts';
import { strategicMerge, type Json } from './strategic-merge.ts';

describe('strategic merge patch', () => {
  const pod: Json = {
    metadata: { labels: { app: 'web', tier: 'front' }, finalizers: ['a'] },
    spec: {
      containers: [
        { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }] },
        { name: 'sidecar', image: 'envoy:1' },
      ],
    },
  };

  it('merges containers by name and replaces plain lists', () => {
    const out = strategicMerge(pod, {
      spec: { containers: [{ name: 'app', image: 'app:2' }] },
      metadata: { labels: { tier: null }, finalizers: ['b'] },
    });
    expect(out).toEqual({
      metadata: { labels: { app: 'web' }, finalizers: ['a', 'b'] },
      spec: {
        containers: [
          { name: 'app', image: 'app:2', env: [{ name: 'A', value: '1' }] },
          { name: 'sidecar', image: 'envoy:1' },
        ],
      },
    });
  });

  it('honours $patch: delete, $setElementOrder and $retainKeys as kubectl apply sends them', () => {
    const out = strategicMerge(pod, {
      spec: {
        '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'app' }],
        containers: [{ name: 'app', $patch: 'delete' }, { name: 'extra', image: 'x' }],
      },
    });
    expect((out as { spec: { containers: { name: string }[] } }).spec.containers.map((c) => c.name)).toEqual(['sidecar', 'extra']);
    expect(strategicMerge({ a: 1, b: 2, c: 3 }, { $retainKeys: ['a', 'c'], c: 4 })).toEqual({ a: 1, c: 4 });
    expect(strategicMerge({ a: { x: 1 } }, { a: { $patch: 'replace', y: 2 } })).toEqual({ a: { y: 2 } });
  });
});

describe('JSON merge patch and JSON patch', () => {
  it('merge patch deletes with null and replaces lists', () => {
    expect(mergePatch({ a: 1, b: [1, 2], c: { d: 1 } }, { a: null, b: [3], c: { e: 2 } })).toEqual({ b: [3], c: { d: 1, e: 2 } });
  });

  it('json patch applies add, replace, remove, move, copy and test', () => {
    const out = jsonPatch({ a: { b: [1, 2] }, c: 'x' }, [
      { op: 'add', path: '/a/b/-', value: 3 },
      { op: 'replace', path: '/c', value: 'y' },
      { op: 'copy', from: '/c', path: '/d' },
      { op: 'move', from: '/d', path: '/e~1f' },
      { op: 'remove', path: '/a/b/0' },
      { op: 'test', path: '/a/b', value: [2, 3] },
    ]);
    expect(out).toEqual({ a: { b: [2, 3] }, c: 'y', 'e/f': 'y' });
    expect(() => jsonPatch({}, [{ op: 'remove', path: '/missing' }])).toThrow(/does not exist/);
  });
});
