// Listings as aligned columns: every column but the last is padded to its
// widest cell, the last runs to the end of the line. Cells come from the
// server and from what users asked of clusters: control characters in them
// are shown as escapes (terminal-safe.ts), and widths count what is shown.
import { safeText } from './terminal-safe.ts';

export function formatTable(head: string[], rows: string[][]): string {
  const shown = rows.map((r) => r.map(safeText));
  const widths = head.slice(0, -1).map((h, i) => Math.max(h.length, ...shown.map((r) => r[i]!.length)) + 2);
  const line = (r: string[]) => r.slice(0, -1).map((c, i) => c.padEnd(widths[i]!)).join('') + r[r.length - 1] + '\n';
  return [head, ...shown].map(line).join('');
}
