// Pod logs: GET .../pods/NAME/log. Lines are kept per pod (all containers share them; the
// oldest go past MAX_LINES); with follow=true the answer stays open and each line appended
// later is written at once, so `kubectl logs -f` shows it as it comes. tailLines, timestamps
// and limitBytes are honoured. A pod with a LiveLog keeps writing lines while anyone follows
// its logs or is attached, like a server answering probes, and stops (no timer left) when the
// last one goes.
import { EventEmitter } from 'node:events';
import { startStream, type AnyResponse } from './status.ts';

interface LogLine {
  time: Date;
  text: string;
}

/** Lines a pod writes while it is watched: the next of `lines` every `everyMs` (default 1000), in a cycle; `{n}` in a line counts up from 1. */
export interface LiveLog {
  lines: string[];
  everyMs?: number;
}

export const MAX_LINES = 10_000;

interface Live {
  spec: LiveLog;
  n: number;
  timer?: NodeJS.Timeout | undefined;
}

export interface LogBook {
  append(namespace: string, pod: string, text: string): void;
  /** Ends open follow streams of a pod, e.g. when it is deleted; keeps nothing of its lines. */
  forget(namespace: string, pod: string): void;
  serve(res: AnyResponse, namespace: string, pod: string, query: URLSearchParams): void;
  /** Calls `fn` with each line appended from now on; returns the unsubscribe. */
  subscribe(namespace: string, pod: string, fn: (text: string) => void): () => void;
  /** Ends every follow stream (server shutdown). */
  closeAll(): void;
  /** Makes the pod write `live` lines while it is followed or attached. */
  live(namespace: string, pod: string, live: LiveLog): void;
  /** How many follow streams and attach sessions read the pod's logs now. */
  followers(namespace: string, pod: string): number;
}

export function createLogBook(now: () => Date = () => new Date()): LogBook {
  const lines = new Map<string, LogLine[]>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const key = (ns: string, pod: string) => `${ns}/${pod}`;
  const watching = new Map<string, number>();
  const lives = new Map<string, Live>();

  const append = (k: string, text: string) => {
    const line = { time: now(), text };
    const kept = lines.get(k) ?? [];
    kept.push(line);
    if (kept.length > MAX_LINES) kept.splice(0, kept.length - MAX_LINES);
    lines.set(k, kept);
    events.emit(k, line);
  };
  const stopLive = (live: Live | undefined) => {
    clearInterval(live?.timer);
    if (live) live.timer = undefined;
  };
  const startLive = (k: string) => {
    const live = lives.get(k);
    if (!live || live.timer) return;
    live.timer = setInterval(() => {
      const text = live.spec.lines[live.n % live.spec.lines.length] ?? '';
      live.n += 1;
      append(k, text.replaceAll('{n}', String(live.n)));
    }, live.spec.everyMs ?? 1000);
    live.timer.unref();
  };
  /** Counts a reader in; returns the count-out, which is safe to call more than once. */
  const watch = (k: string) => {
    watching.set(k, (watching.get(k) ?? 0) + 1);
    startLive(k);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const left = (watching.get(k) ?? 1) - 1;
      if (left > 0) return void watching.set(k, left);
      watching.delete(k);
      stopLive(lives.get(k));
    };
  };

  const format = (l: LogLine, timestamps: boolean) => {
    const text = l.text.endsWith('\n') ? l.text : `${l.text}\n`;
    return timestamps ? `${l.time.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z')} ${text}` : text;
  };

  return {
    append(ns, pod, text) {
      append(key(ns, pod), text);
    },

    forget(ns, pod) {
      const k = key(ns, pod);
      lines.delete(k);
      events.emit(`${k}:end`);
      stopLive(lives.get(k));
      lives.delete(k);
    },

    serve(res, ns, pod, query) {
      const k = key(ns, pod);
      const timestamps = query.get('timestamps') === 'true';
      const tail = query.get('tailLines');
      let budget = query.has('limitBytes') ? Number(query.get('limitBytes')) : Infinity;
      let all = lines.get(k) ?? [];
      if (tail !== null && Number(tail) >= 0) all = Number(tail) === 0 ? [] : all.slice(-Number(tail));

      const follow = query.get('follow') === 'true';
      if (follow) startStream(res, { 'content-type': 'text/plain' });
      else res.writeHead(200, { 'content-type': 'text/plain' });
      const write = (l: LogLine) => {
        const text = format(l, timestamps);
        const chunk = Buffer.from(text).subarray(0, Math.max(0, budget));
        budget -= chunk.length;
        if (chunk.length > 0) res.write(chunk);
        return budget > 0;
      };
      let open = all.every(write);
      if (!open || !follow) {
        res.end();
        return;
      }
      const onLine = (l: LogLine) => {
        open = write(l);
        if (!open) finish();
      };
      const unwatch = watch(k);
      const finish = () => {
        unwatch();
        events.off(k, onLine);
        events.off(`${k}:end`, finish);
        events.off('closeAll', finish);
        if (!res.writableEnded) res.end();
      };
      events.on(k, onLine);
      events.on(`${k}:end`, finish);
      events.on('closeAll', finish);
      res.on('close', finish);
    },

    subscribe(ns, pod, fn) {
      const k = key(ns, pod);
      const listener = (l: LogLine) => fn(l.text.endsWith('\n') ? l.text : `${l.text}\n`);
      events.on(k, listener);
      const unwatch = watch(k);
      return () => {
        unwatch();
        events.off(k, listener);
      };
    },

    closeAll() {
      events.emit('closeAll');
      for (const live of lives.values()) stopLive(live);
    },

    live(ns, pod, spec) {
      const k = key(ns, pod);
      if (spec.lines.length === 0) throw new Error('a live log needs at least one line');
      stopLive(lives.get(k));
      lives.set(k, { spec, n: 0 });
      if (watching.has(k)) startLive(k);
    },

    followers: (ns, pod) => watching.get(key(ns, pod)) ?? 0,
  };
}
