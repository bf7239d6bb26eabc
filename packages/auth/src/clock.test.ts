import { describe, expect, it } from 'vitest';
import { randomIds } from './clock.ts';

describe('random ids', () => {
  it('never start with "-", which a command line would read as options, and are otherwise base64url of the bytes asked for', () => {
    const first = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = randomIds.id(6);
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{7}$/);
      first.add(id[0]!);
    }
    // Every other leading character still comes up: only "-" is drawn again.
    expect(first.size).toBe(63);
    expect(randomIds.id()).toHaveLength(22);
  });
});
