// ztshd logs "ztshd listening" with the address it bound once it serves; a
// process started on port 0 (a replica, a test, a benchmark) learns its port
// from that line, read the same way everywhere.
/** The port of ztshd's "ztshd listening" line (pino JSON), if this is that line. */
export function listeningPort(line: string): number | undefined {
  if (!line.includes('"ztshd listening"')) return undefined;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; listen?: unknown };
    if (entry.msg !== 'ztshd listening' || typeof entry.listen !== 'string') return undefined;
    const port = Number(/:(\d{1,5})$/.exec(entry.listen)?.[1]);
    return port > 0 && port <= 65535 ? port : undefined;
  } catch {
    return undefined;
  }
}
