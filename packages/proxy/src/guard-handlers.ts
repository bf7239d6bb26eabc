// A tunnel's event handlers run on the agent's input: whatever one throws
// must end that tunnel, never reach the event loop and take ztshd down.

/** Wraps handlers so that what one throws goes to `onThrow` instead of up. */
export function guardHandlers(onThrow: (err: unknown) => void) {
  return <A extends unknown[]>(handler: (...args: A) => void) =>
    (...args: A): void => {
      try {
        handler(...args);
      } catch (err) {
        onThrow(err);
      }
    };
}
