// The clusters the proxy knows and the tunnel each agent keeps open. A
// cluster stays known (offline) after its agent leaves, so users get
// "offline" rather than "unknown"; with a file to keep them in, also across
// a restart, while agents reconnect.
import type { ClientHttp2Session } from 'node:http2';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** How long a change of the known clusters waits for others before the file is written. */
const KEEP_AFTER_MS = 1000;

export interface AgentTunnel {
  cluster: string;
  hostId: string;
  labels: Record<string, string>;
  /** The tunnel's HTTP/2 session; opened by the first request that asks for it. */
  readonly session: ClientHttp2Session;
  connectedAt: Date;
  close(): void;
}

export interface ClusterView {
  name: string;
  labels: Record<string, string>;
  online: boolean;
  since: string;
}

export class AgentTunnels {
  readonly #live = new Map<string, AgentTunnel>();
  readonly #known = new Map<string, { labels: Record<string, string>; since: Date }>();
  #keepTimer: NodeJS.Timeout | undefined;

  /** `knownFile`: where the known clusters and their labels are kept between runs. */
  constructor(private readonly knownFile?: string) {
    if (!knownFile) return;
    try {
      const kept = JSON.parse(readFileSync(knownFile, 'utf8')) as Record<string, { labels: Record<string, string>; since: string }>;
      for (const [name, k] of Object.entries(kept)) {
        if (typeof k?.since === 'string' && k.labels && typeof k.labels === 'object') this.#known.set(name, { labels: k.labels, since: new Date(k.since) });
      }
    } catch {
      // none kept yet (or unreadable): clusters become known as their agents connect
    }
  }

  /**
   * Writes the known clusters out once a burst of new ones is over, not once
   * per cluster: a fleet dialing in after its first start would otherwise
   * rewrite the whole file for every agent (quadratic in the fleet, on the
   * event loop), and the freed write buffers left the malloc heap
   * fragmented, about 5 KiB per tunnel that stayed resident.
   */
  #keep(): void {
    if (!this.knownFile || this.#keepTimer) return;
    this.#keepTimer = setTimeout(() => this.#write(), KEEP_AFTER_MS);
    this.#keepTimer.unref();
  }

  #write(): void {
    clearTimeout(this.#keepTimer);
    this.#keepTimer = undefined;
    if (!this.knownFile) return;
    try {
      mkdirSync(dirname(this.knownFile), { recursive: true });
      const body = Object.fromEntries([...this.#known].map(([name, k]) => [name, { labels: k.labels, since: k.since.toISOString() }]));
      writeFileSync(`${this.knownFile}.tmp`, JSON.stringify(body), { mode: 0o600 });
      renameSync(`${this.knownFile}.tmp`, this.knownFile);
    } catch {
      // best effort: only what users read after a restart depends on it
    }
  }

  add(tunnel: AgentTunnel): void {
    const previous = this.#live.get(tunnel.cluster);
    this.#live.set(tunnel.cluster, tunnel);
    const before = this.#known.get(tunnel.cluster);
    this.#known.set(tunnel.cluster, { labels: tunnel.labels, since: tunnel.connectedAt });
    if (!before || JSON.stringify(before.labels) !== JSON.stringify(tunnel.labels)) this.#keep();
    // A reconnecting agent replaces its old tunnel.
    if (previous && previous !== tunnel) previous.close();
  }

  remove(tunnel: AgentTunnel, at: Date): void {
    if (this.#live.get(tunnel.cluster) !== tunnel) return;
    this.#live.delete(tunnel.cluster);
    this.#known.set(tunnel.cluster, { labels: tunnel.labels, since: at });
  }

  get(cluster: string): AgentTunnel | undefined {
    return this.#live.get(cluster);
  }

  /** Every tunnel up now, one per cluster. */
  live(): AgentTunnel[] {
    return [...this.#live.values()];
  }

  known(cluster: string): boolean {
    return this.#known.has(cluster);
  }

  labels(cluster: string): Record<string, string> | undefined {
    return this.#known.get(cluster)?.labels;
  }

  list(): ClusterView[] {
    return [...this.#known.entries()]
      .map(([name, k]) => ({ name, labels: k.labels, online: this.#live.has(name), since: k.since.toISOString() }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Closes every tunnel and writes out what is still to be kept. */
  closeAll(): void {
    for (const t of this.#live.values()) t.close();
    this.#live.clear();
    if (this.#keepTimer) this.#write();
  }
}
