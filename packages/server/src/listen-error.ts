// The one mistake every newcomer makes: a second `pnpm start` while the first
// still runs. Node says EADDRINUSE with a stack trace; ztshd says, on one
// line, which address, why that is likely, and how to run beside it.

interface ListenError {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  cause?: unknown;
}

/** The line to print when `error` (or its cause) is an address already in use; undefined otherwise. */
export function addressInUseLine(error: unknown, remedy: string): string | undefined {
  for (let e = error as ListenError | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as ListenError | undefined, depth++) {
    if (e.code !== 'EADDRINUSE') continue;
    const host = typeof e.address === 'string' ? (e.address.includes(':') ? `[${e.address}]` : e.address) : undefined;
    const where = host && typeof e.port === 'number' ? `${host}:${e.port}` : 'the address to listen on';
    return `error: ${where} is already in use, most likely by another ztshd (a second pnpm start?): stop that one, or ${remedy}\n`;
  }
  return undefined;
}
