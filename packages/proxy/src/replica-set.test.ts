import { describe, expect, it } from 'vitest';
import { isReplicaId, MAX_REPLICAS } from '@ztsh/protocol';
import { newReplicaId, replicaSet } from './replica-set.ts';

describe('replica set', () => {
  it('starts as this replica alone, and always keeps it', () => {
    const set = replicaSet('r2');
    expect(set.current()).toEqual(['r2']);
    set.update(['r3', 'r1']);
    expect(set.current()).toEqual(['r1', 'r2', 'r3']);
    set.update([]);
    expect(set.current()).toEqual(['r2']);
  });

  it('tells listeners only of a change, and leaves out what is no replica id', () => {
    const set = replicaSet('r1');
    const heard: (readonly string[])[] = [];
    const stop = set.subscribe((ids) => heard.push(ids));
    set.update(['r1', 'r2']);
    set.update(['r2', 'r1', 'r2']);
    set.update(['r2', 'BAD ID', '']);
    stop();
    set.update(['r1']);
    expect(heard).toEqual([['r1', 'r2']]);
  });

  it('names at most MAX_REPLICAS, itself among them', () => {
    const set = replicaSet('zz');
    set.update(Array.from({ length: 200 }, (_, i) => `r${i}`));
    expect(set.current()).toHaveLength(MAX_REPLICAS);
    expect(set.current()).toContain('zz');
  });

  it('a new id is the host name made safe, and random bits', () => {
    expect(newReplicaId('ztshd-0', () => Buffer.from('a1b2c3d4', 'hex'))).toBe('ztshd-0-a1b2c3d4');
    expect(newReplicaId('Web_01.Example.COM', () => Buffer.from('00000000', 'hex'))).toBe('web-01.example.com-00000000');
    for (const host of ['', '---', '😀', 'x'.repeat(300), '.a.']) expect(isReplicaId(newReplicaId(host)), host).toBe(true);
    expect(newReplicaId('h')).not.toBe(newReplicaId('h'));
    expect(() => replicaSet('Not An Id')).toThrow();
  });
});
