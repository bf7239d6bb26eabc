import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDroppedRequestHeader } from './kube-wire.ts';
import { formatReplicaList, isReplicaId, MAX_REPLICAS, parseReplicaList, readReplicaAnnouncement } from './tunnel-replicas.ts';

describe('replica ids and sets', () => {
  it('ids are short lowercase words', () => {
    for (const good of ['r1', 'ztshd-0-3fa9c1d2', 'a', 'pod.ns', '0'.repeat(63)]) expect(isReplicaId(good), good).toBe(true);
    for (const bad of ['', 'R1', '-r1', '.r1', 'r 1', 'r,1', 'r1\n', 'é', '0'.repeat(64), 'a/b', 'a_b']) expect(isReplicaId(bad), bad).toBe(false);
    expect(isReplicaId(['r1'])).toBe(false);
  });

  it('a list round-trips, and only a well-formed one parses', () => {
    expect(parseReplicaList(formatReplicaList(['r1', 'r2']), false)).toEqual(['r1', 'r2']);
    expect(parseReplicaList(undefined, true)).toEqual([]);
    expect(parseReplicaList('', true)).toEqual([]);
    expect(parseReplicaList(undefined, false)).toBeUndefined();
    expect(parseReplicaList('', false)).toBeUndefined();
    for (const bad of ['r1,', ',r1', 'r1,,r2', 'r1, r2', 'r1,r1', 'R1', 'r1;r2', 'x'.repeat(5000)]) expect(parseReplicaList(bad, true), bad).toBeUndefined();
    expect(parseReplicaList(['r1', 'r2'], true)).toBeUndefined();
    const many = Array.from({ length: MAX_REPLICAS + 1 }, (_, i) => `r${i}`);
    expect(parseReplicaList(many.slice(0, MAX_REPLICAS).join(','), false)).toHaveLength(MAX_REPLICAS);
    expect(parseReplicaList(many.join(','), false)).toBeUndefined();
    expect(() => formatReplicaList(many)).toThrow();
    expect(() => formatReplicaList(['R1'])).toThrow();
  });

  it('an announcement names its sender among the set', () => {
    expect(readReplicaAnnouncement('r2', 'r1,r2')).toEqual({ self: 'r2', replicas: ['r1', 'r2'] });
    expect(readReplicaAnnouncement('r3', 'r1,r2')).toBeUndefined();
    expect(readReplicaAnnouncement(undefined, 'r1')).toBeUndefined();
    expect(readReplicaAnnouncement('r1', undefined)).toBeUndefined();
    expect(readReplicaAnnouncement(['r1'], 'r1')).toBeUndefined();
  });

  it('whatever a header holds, parsing returns distinct valid ids or nothing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        const ids = parseReplicaList(header, true);
        if (!ids) return;
        expect(ids.every(isReplicaId)).toBe(true);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.join(',')).toBe(header);
      }),
    );
  });

  it('the headers are x-ztsh-* ones, dropped from every client request', () => {
    for (const name of ['x-ztsh-replicas-held', 'x-ztsh-replica-id', 'x-ztsh-replicas', 'x-ztsh-control']) expect(isDroppedRequestHeader(name)).toBe(true);
  });
});
