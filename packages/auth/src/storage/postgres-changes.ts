// The change feed over PostgreSQL: publish is NOTIFY ztsh_changes '<topic>',
// heard by every replica's one dedicated LISTEN connection (pooled
// connections cannot listen: they are handed to other work). When that
// connection drops, it is opened again with a growing back-off, and every
// subscriber is then told every topic: a notification sent while it was
// down is lost, so what they cache is reloaded.
import pg from 'pg';
import { queryable } from './postgres-pool.ts';
import type { ChangeTopic, Storage } from './storage.ts';

export const CHANGES_CHANNEL = 'ztsh_changes';
/** What the listening connection calls itself in pg_stat_activity. */
export const LISTENER_NAME = 'ztsh-changes';
const TOPICS: readonly ChangeTopic[] = ['locks', 'join_tokens', 'roles'];
const BACKOFF_MS = { first: 100, max: 5_000 };

export interface ChangeFeedOptions {
  pool: pg.Pool;
  /** Opens a connection like the pool's (same address, credentials, TLS). */
  connect: () => pg.Client;
  onError: (message: string, error: unknown) => void;
}

export type PostgresChanges = Storage['changes'] & {
  /** Resolves once the first LISTEN is in place. */
  ready: Promise<void>;
  close(): Promise<void>;
};

export function postgresChanges(options: ChangeFeedOptions): PostgresChanges {
  const listeners = new Set<(topic: ChangeTopic) => void>();
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let delay = BACKOFF_MS.first;

  const tell = (topic: ChangeTopic) => {
    for (const listener of [...listeners]) {
      try {
        listener(topic);
      } catch (error) {
        // One broken listener must not keep the others from hearing.
        options.onError('a change listener failed', error);
      }
    }
  };

  const listen = async (): Promise<void> => {
    const next = options.connect();
    let lost = false;
    const onLost = (error?: unknown) => {
      if (lost) return;
      lost = true;
      if (client === next) client = undefined;
      next.end().catch(() => {});
      if (closed) return;
      options.onError(`the ${CHANGES_CHANNEL} listener lost its connection; reconnecting in ${delay} ms`, error);
      schedule();
    };
    next.on('error', onLost);
    next.on('end', () => onLost());
    next.on('notification', (message) => {
      if (message.channel !== CHANGES_CHANNEL) return;
      const topic = TOPICS.find((t) => t === message.payload);
      if (topic) tell(topic);
    });
    await next.connect();
    await next.query(`LISTEN ${CHANGES_CHANNEL}`);
    if (closed) {
      await next.end();
      return;
    }
    client = next;
    delay = BACKOFF_MS.first;
  };

  const schedule = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      listen().then(
        // Back after a drop: what was published meanwhile never reached us.
        () => TOPICS.forEach(tell),
        (error: unknown) => {
          options.onError(`the ${CHANGES_CHANNEL} listener cannot reconnect; retrying in ${delay} ms`, error);
          schedule();
        },
      );
      delay = Math.min(delay * 2, BACKOFF_MS.max);
    }, delay);
    retry.unref();
  };

  const db = queryable(options.pool);
  return {
    ready: listen(),
    publish: async (topic) => {
      await db.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, topic]);
    },
    subscribe: (listener) => {
      // Wrapped, so the same function subscribed twice is told twice and unsubscribed once per call.
      const entry = (topic: ChangeTopic) => listener(topic);
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
    close: async () => {
      closed = true;
      clearTimeout(retry);
      listeners.clear();
      await client?.end().catch(() => {});
    },
  };
}
