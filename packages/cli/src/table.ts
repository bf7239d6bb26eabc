// Listings as aligned columns: every column but the last is padded to its
// widest cell, the last runs to the end of the line.
export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const line = (r: string[]) => r.slice(0, -1).map((c, i) => c.padEnd(widths[i]!)).join('') + r[r.length - 1] + '\n';
  return [head, ...rows].map(line).join('');
}
