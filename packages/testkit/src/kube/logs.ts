// Pod logs: GET .../pods/NAME/log. Lines are kept per pod (all containers share them); with
// follow=true the answer stays open and each line appended later is written at once, so
// `kubectl logs -f` shows it as it comes. tailLines, timestamps and limitBytes are honoured.
import { EventEmitter } from 'node:events';
import { startStream, type AnyResponse } from './status.ts';

interface LogLine {
  time: Date;
  text: string;
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
}

export function createLogBook(now: () => Date = () => new Date()): LogBook {
  const lines = new Map<string, LogLine[]>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const key = (ns: string, pod: string) => `${ns}/${pod}`;

  const format = (l: LogLine, timestamps: boolean) => {
    const text = l.text.endsWith('\n') ? l.text : `${l.text}\n`;
    return timestamps ? `${l.time.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z')} ${text}` : text;
  };

  return {
    append(ns, pod, text) {
      const k = key(ns, pod);
      const line = { time: now(), text };
      lines.set(k, [...(lines.get(k) ?? []), line]);
      events.emit(k, line);
    },

    forget(ns, pod) {
      const k = key(ns, pod);
      lines.delete(k);
      events.emit(`${k}:end`);
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
      const finish = () => {
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
      const listener = (l: LogLine) => fn(l.text.endsWith('\n') ? l.text : `${l.text}\n`);
      events.on(key(ns, pod), listener);
      return () => events.off(key(ns, pod), listener);
    },

    closeAll() {
      events.emit('closeAll');
    },
  };
}
