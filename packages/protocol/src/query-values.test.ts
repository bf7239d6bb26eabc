import { describe, expect, it } from 'vitest';
import { ZtshError } from './errors.ts';
import { checkEventTypeFilter, parseSessionRef, parseTimeBound } from './query-values.ts';

const NOW = new Date('2026-11-30T08:00:00Z');

describe('parseTimeBound', () => {
  it('reads now, spans back, dates and ISO times', () => {
    expect(parseTimeBound('now', NOW, 'until').toISOString()).toBe('2026-11-30T08:00:00.000Z');
    expect(parseTimeBound('90m', NOW, 'since').toISOString()).toBe('2026-11-30T06:30:00.000Z');
    expect(parseTimeBound('2026-11-23', NOW, 'since').toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(parseTimeBound('2026-11-23T10:00:00+01:00', NOW, 'since').toISOString()).toBe('2026-11-23T09:00:00.000Z');
  });

  it('refuses what is not a time, naming the parameter', () => {
    for (const bad of ['Now', 'now ', 'garbage', '2026-02-31', '36501d', `${'9'.repeat(30)}h`]) {
      expect(() => parseTimeBound(bad, NOW, '--since'), bad).toThrow(ZtshError);
      expect(() => parseTimeBound(bad, NOW, '--since'), bad).toThrow(/^--since: /);
    }
  });
});

describe('checkEventTypeFilter', () => {
  it('takes a type of the catalogue or a prefix ending in "." or "*"', () => {
    for (const ok of ['kube.request', 'port_forward.end', 'kube.', 'session*', '*']) expect(checkEventTypeFilter(ok)).toBe(ok);
  });

  it('refuses what would match nothing, listing the types', () => {
    for (const bad of ['kube', 'Kube.', 'kube.%', 'kube._', 'session.start ', '']) {
      expect(() => checkEventTypeFilter(bad, '--type'), bad).toThrow(/^--type: ".*" is neither an event type nor a prefix ending in "\." or "\*"$/);
    }
    try {
      checkEventTypeFilter('kube');
    } catch (error) {
      expect((error as ZtshError).hint).toMatch(/^known types: user\.login, .*kube\.request, .*api\.request; or a prefix such as kube\. or session\*$/);
    }
  });
});

describe('parseSessionRef', () => {
  const id = '6f1c2a9b-1d2e-4f3a-8b4c-5d6e7f8a9b0c';
  it('tells a whole id from a prefix of at least 4 characters', () => {
    expect(parseSessionRef(id)).toEqual({ id });
    expect(parseSessionRef('6f1c2a9b')).toEqual({ prefix: '6f1c2a9b' });
    expect(parseSessionRef('6f1c')).toEqual({ prefix: '6f1c' });
    expect(parseSessionRef(id.slice(0, 35))).toEqual({ prefix: id.slice(0, 35) });
  });

  it('refuses other characters, the wrong case, too short and too long', () => {
    for (const bad of ['6f1', '6F1C2A9B', '6f1c%', '6f1c_', '6f1c\\', `${id}0`, 'g'.repeat(8), '6f1c 2a9b', 'x'.repeat(10_000)]) {
      expect(() => parseSessionRef(bad, 'session'), bad).toThrow(/^session: ".{0,65}" is (not a session id|too short a prefix of a session id)$/);
    }
  });
});
