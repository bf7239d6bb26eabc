// Checks, as it arrives, that an agent's first bytes on a tunnel are an
// HTTP/2 server preface (one SETTINGS frame), and that they come in time.
// The proxy's HTTP/2 session starts only at the tunnel's first request, so
// without this a tunnel of garbage or of silence would look healthy until a
// user asked something of it.
import { checkServerPreface, SERVER_PREFACE_MAX_BYTES } from '@ztsh/protocol';

export interface PrefaceWatch {
  feed(data: Buffer): void;
  stop(): void;
}

export function prefaceWatch(withinMs: number, onProblem: (problem: string) => void): PrefaceWatch {
  let seen: Buffer | undefined = Buffer.alloc(0);
  const finish = (problem?: string) => {
    clearTimeout(timer);
    seen = undefined;
    if (problem) onProblem(problem);
  };
  const timer = setTimeout(() => finish(`no SETTINGS frame within ${withinMs / 1000} s`), withinMs);
  timer.unref();
  return {
    feed(data) {
      if (!seen) return;
      seen = Buffer.concat([seen, data.subarray(0, SERVER_PREFACE_MAX_BYTES - seen.length)]);
      const check = checkServerPreface(seen);
      if (check.done) finish(check.problem);
    },
    stop: () => finish(),
  };
}
