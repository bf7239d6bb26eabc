// Answering only once an audit event is stored: the AuthClient returns a
// promise for it, or nothing when there is nothing to wait for (see
// AuthClient in @ztsh/protocol).
import type { MaybePromise } from '@ztsh/protocol';

/** Runs `then` once `stored` has settled (at once when it is no promise); a failure to store is logged. */
export function whenStored(stored: MaybePromise<void>, onFailure: (error: unknown) => void, then: () => void): void {
  if (!(stored instanceof Promise)) return then();
  stored.then(then, (error: unknown) => {
    onFailure(error);
    then();
  });
}
