import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { POSTGRES, SQLITE, SqlFilter } from './sql-filter.ts';

describe('SqlFilter', () => {
  it('leaves out what was not asked, and numbers placeholders in order for PostgreSQL', () => {
    const f = new SqlFilter(POSTGRES).equals('user', 'alice').equals('cluster', undefined).atLeast('time', 5).below('time', undefined).pageAfter(['time', 'seq'], [9, 3]);
    expect(`${f.clause} ${f.limit(50, { fallback: 100, max: 1000 })}`).toBe('WHERE user = $1 AND time >= $2 AND (time < $3 OR (time = $4 AND seq < $5)) LIMIT $6');
    expect(f.params).toEqual(['alice', 5, 9, 9, 3, 50]);
  });

  it('has no WHERE without conditions, and holds the limit within its bounds', () => {
    const bounds = { fallback: 100, max: 1000 };
    const f = new SqlFilter(SQLITE);
    expect(f.clause).toBe('');
    expect(f.limit(undefined, bounds)).toBe('LIMIT ?');
    expect(new SqlFilter().limit(0, bounds)).toBe('LIMIT ?');
    const [fallback, low, high] = [undefined, -5, 5000].map((n) => {
      const g = new SqlFilter();
      g.limit(n, bounds);
      return g.params[0];
    });
    expect([fallback, low, high]).toEqual([100, 1, 1000]);
  });

  it('matches nothing for an empty IN list rather than writing bad SQL', () => {
    expect(new SqlFilter().oneOf('type', []).clause).toBe('WHERE 1 = 0');
  });

  it('pages through SQLite rows newest first, each row once, ties broken by the second key', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (time INTEGER, seq INTEGER, who TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?)');
    for (let seq = 1; seq <= 25; seq++) insert.run(Math.floor(seq / 4), seq, seq % 3 === 0 ? "o'brien" : 'alice');
    const seen: number[] = [];
    let after: [number, number] | undefined;
    for (;;) {
      const f = new SqlFilter().equals('who', 'alice').pageAfter(['time', 'seq'], after);
      const rows = db.prepare(`SELECT time, seq FROM t ${f.clause} ORDER BY time DESC, seq DESC ${f.limit(4, { fallback: 10, max: 10 })}`).all(...f.params) as { time: number; seq: number }[];
      if (rows.length === 0) break;
      seen.push(...rows.map((r) => r.seq));
      const last = rows[rows.length - 1]!;
      after = [last.time, last.seq];
    }
    const alice = Array.from({ length: 25 }, (_, i) => i + 1).filter((seq) => seq % 3 !== 0);
    expect(seen).toEqual(alice.sort((a, b) => Math.floor(b / 4) - Math.floor(a / 4) || b - a));
    // A value with a quote is a parameter, not SQL.
    const f = new SqlFilter().equals('who', "o'brien");
    expect((db.prepare(`SELECT count(*) AS n FROM t ${f.clause}`).get(...f.params) as { n: number }).n).toBe(8);
    db.close();
  });
});
