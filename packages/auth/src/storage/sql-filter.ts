// The WHERE clause, its parameters and the keyset page of the auditors'
// searches (audit events, sessions), built the same way for both. Values
// only ever travel as parameters; column names and SQL come from the code.
// Placeholders come from the dialect, so the same filter serves SQLite (?)
// and PostgreSQL ($1, $2, ...); what is particular to one engine (FTS5's
// MATCH, SQLite's "+column" to steer the planner) stays with its caller.
export interface SqlDialect {
  /** The placeholder of the n-th parameter (from 1). */
  placeholder(n: number): string;
}

export const SQLITE: SqlDialect = { placeholder: () => '?' };
export const POSTGRES: SqlDialect = { placeholder: (n) => `$${n}` };

export interface PageBounds {
  /** Rows in a page when none is asked for. */
  fallback: number;
  max: number;
}

export class SqlFilter {
  /** In placeholder order: pass them as they are to the statement. */
  readonly params: unknown[] = [];
  readonly #conditions: string[] = [];

  constructor(private readonly dialect: SqlDialect = SQLITE) {}

  /** The placeholder of one more parameter with this value. */
  param(value: unknown): string {
    this.params.push(value);
    return this.dialect.placeholder(this.params.length);
  }

  /** A condition written by the caller; `build` gets a placeholder for each value it names. */
  where(build: (param: (value: unknown) => string) => string): this {
    this.#conditions.push(build((value) => this.param(value)));
    return this;
  }

  /** column = value; nothing when the value is undefined. */
  equals(column: string, value: unknown): this {
    return value === undefined ? this : this.where((p) => `${column} = ${p(value)}`);
  }

  /** column >= value (a lower bound, inclusive); nothing when undefined. */
  atLeast(column: string, value: unknown): this {
    return value === undefined ? this : this.where((p) => `${column} >= ${p(value)}`);
  }

  /** column < value (an upper bound, exclusive); nothing when undefined. */
  below(column: string, value: unknown): this {
    return value === undefined ? this : this.where((p) => `${column} < ${p(value)}`);
  }

  /** column IN (values); matches nothing when there are none. */
  oneOf(column: string, values: readonly unknown[]): this {
    return this.where((p) => (values.length === 0 ? '1 = 0' : `${column} IN (${values.map(p).join(', ')})`));
  }

  /**
   * Keyset paging for a newest-first order by (first DESC, second DESC): the
   * rows after the last one of the page before, whose keys are `after`.
   * Nothing when there is no page before.
   */
  pageAfter(columns: readonly [string, string], after: readonly [unknown, unknown] | undefined): this {
    if (!after) return this;
    const [first, second] = columns;
    return this.where((p) => `(${first} < ${p(after[0])} OR (${first} = ${p(after[0])} AND ${second} < ${p(after[1])}))`);
  }

  /** "WHERE a AND b", or nothing. */
  get clause(): string {
    return this.#conditions.length ? `WHERE ${this.#conditions.join(' AND ')}` : '';
  }

  /** "LIMIT ?" for the page size asked, held within the bounds. Call it after the conditions: parameters go in order. */
  limit(requested: number | undefined, bounds: PageBounds): string {
    return `LIMIT ${this.param(Math.min(Math.max(requested ?? bounds.fallback, 1), bounds.max))}`;
  }
}
