// Scrapes a /metrics endpoint as Prometheus would, and reads the text
// exposition format back: samples with their labels, and every metric
// family named in # TYPE lines (those exist before their first sample).
import { Agent, fetch } from 'undici';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  samples: Sample[];
  /** Metric families (# TYPE lines). */
  families: Set<string>;
  /** The value of the one sample with this name and at least these labels; undefined when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over samples with this name and at least these labels (0 when none). */
  sum(name: string, labels?: Record<string, string>): number;
}

export async function scrape(url: URL | string, options: { ca?: string; headers?: Record<string, string> } = {}): Promise<Scrape> {
  const dispatcher = new Agent({ connect: options.ca ? { ca: options.ca } : {} });
  try {
    const res = await fetch(url, { headers: options.headers ?? {}, dispatcher });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    // Health answers, refusals and 404 pages are no exposition: they read as no samples.
    const exposition = res.status === 200 && contentType.startsWith('text/plain; version=0.0.4');
    return { status: res.status, contentType, text, ...parseExposition(exposition ? text : '') };
  } finally {
    await dispatcher.close();
  }
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Pick<Scrape, 'samples' | 'families' | 'value' | 'sum'> {
  const samples: Sample[] = [];
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      families.add(line.split(' ')[2]!);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    families,
    value(name, labels = {}) {
      const found = matching(name, labels);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    sum: (name, labels = {}) => matching(name, labels).reduce((a, s) => a + s.value, 0),
  };
}

/** Polls `check` until it returns true (a metric that moves when a socket closes); fails at the deadline. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
