import { afterEach, describe, expect, it } from 'vitest';
import { localTime } from './local-time.ts';

const original = process.env.TZ;
afterEach(() => {
  // Node re-reads the zone when TZ is assigned.
  if (original === undefined) delete process.env.TZ;
  else process.env.TZ = original;
});

function inZone(tz: string, iso: string): string {
  process.env.TZ = tz;
  return localTime(iso);
}

describe('localTime', () => {
  it('shows the wall clock of the zone with its offset, summer and winter', () => {
    expect(inZone('Europe/Berlin', '2026-11-30T08:14:03.512Z')).toBe('2026-11-30 09:14:03 +01:00');
    expect(inZone('Europe/Berlin', '2026-07-01T08:14:03Z')).toBe('2026-07-01 10:14:03 +02:00');
    expect(inZone('America/St_Johns', '2026-01-01T00:00:00Z')).toBe('2025-12-31 20:30:00 -03:30');
    expect(inZone('Asia/Kolkata', '2026-01-01T00:00:00Z')).toBe('2026-01-01 05:30:00 +05:30');
    expect(inZone('UTC', '2026-01-01T00:00:00Z')).toBe('2026-01-01 00:00:00 +00:00');
  });

  it('leaves what is not a time as it is', () => {
    expect(localTime('not a time')).toBe('not a time');
  });
});
