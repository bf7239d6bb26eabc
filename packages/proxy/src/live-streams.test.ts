import type { AuthClient } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { LiveStreams } from './live-streams.ts';

const auth = { lockFor: () => undefined, onLocksChanged: () => () => undefined } as unknown as AuthClient;

describe('LiveStreams expiry', () => {
  it('ends a stream once the clock passes its notAfter, even when the clock jumps rather than the timer firing', () => {
    let now = Date.parse('2026-11-30T12:00:00Z');
    const streams = new LiveStreams(auth, () => new Date(now));
    const ended: string[] = [];
    const untrack = streams.add({ user: 'alice', roles: ['developer', 'prod-admin'], notAfter: new Date(now + 3_600_000), end: (message, reason) => ended.push(`${reason}: ${message}`) });
    streams.endExpired();
    expect(ended).toEqual([]);
    now += 3_600_000;
    streams.endExpired();
    expect(ended).toEqual(['expired: your ztsh certificate expired at 2026-11-30T13:00:00.000Z: run ztsh login, then run the command again']);
    expect(streams.size).toBe(0);
    // Ended once only.
    streams.endExpired();
    expect(ended).toHaveLength(1);
    untrack();
    streams.close();
  });
});
