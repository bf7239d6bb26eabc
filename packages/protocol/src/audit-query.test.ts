import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditCursor, AuditExportParams, AuditSearchParams, queryProblem, queryString, RecordingsParams, sessionCursor } from './audit-query.ts';

const problem = (result: { success: boolean; error?: unknown }) => (result.success ? undefined : queryProblem(result.error as never));

describe('AuditSearchParams', () => {
  it('parses what the CLI sends into what the store is asked', () => {
    const q = AuditSearchParams.parse({ user: 'alice', outcome: 'failure', limit: '50', before: '2026-11-23T10:00:00.123Z_42', q: 'rm -rf' });
    expect(q).toEqual({ user: 'alice', outcome: 'failure', limit: 50, before: { time: '2026-11-23T10:00:00.123Z', seq: 42 }, q: 'rm -rf' });
  });

  it('names the parameter and what it takes', () => {
    expect(problem(AuditSearchParams.safeParse({ outcome: 'maybe' }))).toBe('outcome: "maybe" must be success or failure');
    expect(problem(AuditSearchParams.safeParse({ limit: '1001' }))).toBe('limit: "1001" must be a whole number from 1 to 1000');
    expect(problem(AuditSearchParams.safeParse({ before: 'x_1' }))).toBe('before: not a page cursor from an earlier answer');
    expect(problem(AuditSearchParams.safeParse({ q: 'a\u0000b' }))).toBe('q: control characters are not searched for');
    expect(problem(AuditSearchParams.safeParse({ user: 'a'.repeat(1025) }))).toBe('user: longer than 1024 characters');
  });

  it('takes limits only as plain digits in range', () => {
    for (const bad of ['0', '-5', '1e3', '0x10', 'NaN', '1.5', ' 5', '99999999999999999999']) {
      expect(AuditSearchParams.safeParse({ limit: bad }).success, bad).toBe(false);
    }
    expect(AuditSearchParams.parse({ limit: '1000' }).limit).toBe(1000);
  });

  it('reads back every cursor it wrote (property)', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), (date, seq) => {
        const event = { time: date.toISOString(), seq };
        expect(AuditSearchParams.parse({ before: auditCursor(event) }).before).toEqual(event);
      }),
    );
  });
});

describe('RecordingsParams', () => {
  it('takes only the kinds of session there are', () => {
    expect(RecordingsParams.parse({ kind: 'portforward' }).kind).toBe('portforward');
    expect(problem(RecordingsParams.safeParse({ kind: 'shell' }))).toBe('kind: "shell" must be exec, attach, cp or portforward');
  });
  it('reads back its cursor and refuses one past a safe integer', () => {
    const s = { startedAt: 1_700_000_000_000, id: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed' };
    expect(RecordingsParams.parse({ before: sessionCursor(s) }).before).toEqual(s);
    expect(RecordingsParams.safeParse({ before: '99999999999999999999_x' }).success).toBe(false);
  });
});

describe('AuditExportParams', () => {
  it('takes an event number and a true/false follow', () => {
    expect(AuditExportParams.parse({ after: '0', follow: 'true' })).toEqual({ after: 0, follow: true });
    expect(AuditExportParams.safeParse({ follow: 'yes' }).success).toBe(false);
    expect(AuditExportParams.safeParse({ after: '-1' }).success).toBe(false);
  });
});

describe('queryString', () => {
  it('leaves out empty and absent values', () => {
    expect(queryString({ user: 'alice', cluster: undefined, type: '', q: 'a b&c' })).toBe('user=alice&q=a+b%26c');
  });
});
