import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 30 * MIN],
    ['8h', 8 * HOUR],
    ['1d', 24 * HOUR],
    ['1h30m', HOUR + 30 * MIN],
    ['1d2h3m4s', 24 * HOUR + 2 * HOUR + 3 * MIN + 4_000],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['8 hours', '', 'h', '8', '8H', '1.5h', '-1h', ' 8h', '8h ', '8hx', '1h 30m'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/is not a duration/);
  });

  it('names the bad text and the units in its error', () => {
    expect(() => parseDuration('8 hours')).toThrow('"8 hours" is not a duration; use a number with s, m, h or d');
  });
});

describe('formatDuration', () => {
  it.each([
    [8 * HOUR, '8h'],
    [HOUR + 30 * MIN, '1h30m'],
    [30 * MIN, '30m'],
    [48 * HOUR, '48h'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['8h', '1h30m', '45m', '12h5m'])('round-trips %s through parseDuration', (text) => {
    expect(formatDuration(parseDuration(text))).toBe(text);
  });
});
