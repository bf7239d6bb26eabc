// The clusters the proxy knows and the tunnel each agent keeps open. A
// cluster stays known (offline) after its agent leaves, so users get
// "offline" rather than "unknown".
import type { ClientHttp2Session } from 'node:http2';

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

  add(tunnel: AgentTunnel): void {
    const previous = this.#live.get(tunnel.cluster);
    this.#live.set(tunnel.cluster, tunnel);
    this.#known.set(tunnel.cluster, { labels: tunnel.labels, since: tunnel.connectedAt });
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

  closeAll(): void {
    for (const t of this.#live.values()) t.close();
    this.#live.clear();
  }
}
