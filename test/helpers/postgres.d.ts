export interface TestPostgres {
    /** postgres://postgres@127.0.0.1:<port>/postgres (trust on 127.0.0.1: no password). */
    url: string;
    port: number;
    /** A new, empty database; its URL. */
    createDatabase(): Promise<string>;
    /** Runs SQL as the superuser (psql), e.g. to break a connection on purpose; returns psql's output. */
    psql(sql: string, database?: string): Promise<string>;
    stop(): Promise<void>;
}
export declare function startPostgres(): Promise<TestPostgres>;
