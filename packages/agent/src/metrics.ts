// The agent's Prometheus metrics and its operations listener (metrics.listen
// in agent.yaml; off unless set): requests forwarded to the apiserver by
// kind and code, bytes each way, tunnel reconnects and whether the tunnel
// is up. /readyz is ready while the tunnel is up: an agent without one
// serves nothing. Labels are fixed words and HTTP codes only.
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { listenOps, opsEndpoints, splitListen, ZtshError } from '@ztsh/protocol';

export type ForwardKind = 'plain' | 'upgrade';
export type ByteDirection = 'to_apiserver' | 'from_apiserver';

export interface AgentMetrics {
  /** A request the agent forwarded, with the apiserver's status (502 when it could not reach it). */
  request(kind: ForwardKind, code: number): void;
  bytes(direction: ByteDirection, count: number): void;
  /** The tunnel went down and the agent will dial again. */
  reconnect(): void;
  tunnel(up: boolean): void;
  /** Tunnels open (one per proxy replica reached) and replicas in the set last announced. */
  tunnels(open: number, replicas: number): void;
  readonly tunnelUp: boolean;
}

export function createAgentMetrics(registry: Registry): AgentMetrics {
  const requests = new Counter({
    name: 'ztsh_agent_requests_total',
    help: 'Requests the agent forwarded to the apiserver, by kind (plain or upgrade) and HTTP code',
    labelNames: ['kind', 'code'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'ztsh_agent_bytes_total',
    help: 'Bytes the agent relayed, by direction (to_apiserver, from_apiserver)',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  for (const direction of ['to_apiserver', 'from_apiserver']) bytes.inc({ direction }, 0);
  const reconnects = new Counter({ name: 'ztsh_agent_reconnects_total', help: 'Times the tunnel went down and the agent dialed again', registers: [registry] });
  const up = new Gauge({ name: 'ztsh_agent_tunnel_up', help: '1 while a tunnel to the proxy is up, else 0', registers: [registry] });
  up.set(0);
  const open = new Gauge({ name: 'ztsh_agent_tunnels', help: 'Tunnels open, one per proxy replica reached', registers: [registry] });
  const replicas = new Gauge({ name: 'ztsh_agent_replicas', help: 'Proxy replicas in the set last announced (the agent holds a tunnel to each)', registers: [registry] });
  open.set(0);
  replicas.set(0);
  let tunnelUp = false;
  return {
    request: (kind, code) => requests.inc({ kind, code: Number.isInteger(code) && code >= 100 && code <= 599 ? String(code) : 'other' }),
    bytes: (direction, count) => bytes.inc({ direction }, count),
    reconnect: () => reconnects.inc(),
    tunnel: (on) => {
      tunnelUp = on;
      up.set(on ? 1 : 0);
    },
    tunnels: (count, wanted) => {
      open.set(count);
      replicas.set(wanted);
    },
    get tunnelUp() {
      return tunnelUp;
    },
  };
}

export interface AgentOps {
  metrics: AgentMetrics;
  registry: Registry;
  url: URL;
  close(): Promise<void>;
}

/** The agent's operations listener: /metrics, /healthz, /readyz (ready while the tunnel is up). */
export async function startAgentOps(listen: string, log: Logger): Promise<AgentOps> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createAgentMetrics(registry);
  const { host, port } = splitListen(listen);
  try {
    const listener = await listenOps(host, port, opsEndpoints({ notReady: () => (metrics.tunnelUp ? undefined : 'tunnel down'), metrics: registry }));
    log.info({ listen: `${host}:${listener.url.port}` }, 'agent metrics listening');
    return { metrics, registry, url: listener.url, close: listener.close };
  } catch (cause) {
    throw new ZtshError('invalid_config', `metrics.listen: cannot listen on ${listen}: ${(cause as Error).message}`, { cause, hint: 'pick a free port, or remove metrics.listen' });
  }
}
