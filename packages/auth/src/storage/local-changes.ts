// A change feed that reaches only this process: SQLite has no NOTIFY, so
// other processes on the same file keep polling what they cache.
import type { ChangeTopic, Storage } from './storage.ts';

export function localChanges(onListenerError: (error: unknown) => void = () => {}): Storage['changes'] & { clear(): void } {
  const listeners = new Set<(topic: ChangeTopic) => void>();
  return {
    publish: async (topic) => {
      // A copy: a listener may unsubscribe while it is told.
      for (const listener of [...listeners]) {
        try {
          listener(topic);
        } catch (error) {
          // One broken listener must not keep the others from hearing, nor fail the write that published.
          onListenerError(error);
        }
      }
    },
    subscribe: (listener) => {
      // Wrapped, so the same function subscribed twice is told twice and unsubscribed once per call.
      const entry = (topic: ChangeTopic) => listener(topic);
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
    clear: () => listeners.clear(),
  };
}
