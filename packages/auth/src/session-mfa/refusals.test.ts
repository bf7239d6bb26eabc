import { describe, expect, it } from 'vitest';
import { boundClusters, sameSerial } from './refusals.ts';

describe('boundClusters', () => {
  it('sorts and drops repeats, so a redeem naming the same set in another order matches', () => {
    expect(boundClusters(['prod-b', 'prod-a', 'prod-b'])).toEqual(['prod-a', 'prod-b']);
    expect(boundClusters(['prod-b', 'prod-a']).join(',')).toBe(boundClusters(['prod-a', 'prod-b', 'prod-a']).join(','));
  });
});

describe('sameSerial', () => {
  it('ignores case and leading zeros, as node:crypto and the issuer may write them differently', () => {
    expect(sameSerial('00AB12', 'ab12')).toBe(true);
    expect(sameSerial('AB12', 'AB13')).toBe(false);
    expect(sameSerial('0AB12', 'AB120')).toBe(false);
  });
});
