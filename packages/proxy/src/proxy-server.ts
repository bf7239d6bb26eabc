// What the proxy serves on the one HTTPS listener (proxy-listener.ts),
// attached once the AuthClient exists:
//
//   /k8s/<cluster>/...   kube front door (user certificate)   kube-forward.ts, kube-upgrade.ts
//   /v1/clusters         clusters the user may reach           clusters-api.ts
//   /v1/tunnel           agents dial in (host certificate)     tunnel-server.ts
//   everything else      the auth service (login, join, ...)
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AgentTunnels } from './agent-tunnels.ts';
import type { AuthClient } from '@ztsh/protocol';
import { listClusters } from './clusters-api.ts';
import type { KubeDeps } from './kube-access.ts';
import { forwardKube } from './kube-forward.ts';
import { LiveStreams } from './live-streams.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { ProxyListener } from './proxy-listener.ts';
import { refuseUpgrade, sendStatus } from './kube-status.ts';
import { upgradeKube } from './kube-upgrade.ts';
import { tunnelServer } from './tunnel-server.ts';
import { announceReplicas } from './replica-announce.ts';
import { newReplicaId, replicaSet, type ReplicaSet } from './replica-set.ts';

/**
 * Kubernetes API paths without the /k8s/<cluster> prefix: what `kubectl get
 * --raw` sends (it replaces the server URL's path with the one given), or a
 * kubeconfig pointing at the proxy's bare address. kubectl gets a Status
 * that says what to do rather than the auth service's 404.
 */
const KUBE_WITHOUT_PREFIX = /^\/(api|apis|openapi|version)(\/|\?|$)/;
const MISSING_PREFIX =
  'Kubernetes API paths on the ztsh proxy start with /k8s/<cluster>/. kubectl get --raw drops that prefix from the server URL: give it in the path (kubectl get --raw /k8s/<cluster>/openapi/v3). Otherwise run ztsh kube login <cluster>';

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export interface ProxyServerOptions {
  /** Bound already or not: the handlers take over from its "starting" answers. */
  listener: ProxyListener;
  auth: AuthClient;
  /** Everything that is not the proxy's own: the auth service's app. */
  fallback: Handler;
  log: Logger;
  now?: () => Date;
  /** Where the clusters the proxy has seen are kept, so that after a restart they read "offline" until their agents are back, not "not found". */
  knownClustersFile?: string;
  /** Prometheus metrics of the kube front door, sessions, tunnels and locks (metrics.ts). */
  metrics?: ProxyMetrics | undefined;
  /** This replica's id and the live replica set agents are told of; default: a new id, alone in its set. */
  replicas?: ReplicaSet | undefined;
}

export interface ProxyServer {
  server: Http2SecureServer;
  tunnels: AgentTunnels;
  /** Requests and sessions in flight (a lock ends those it covers). */
  liveStreams: LiveStreams;
  replicas: ReplicaSet;
  /** For the benchmark only: turns recording of session content off and on (metadata and audit stay). */
  setRecording(on: boolean): void;
  /** Ends every stream and tunnel, then closes the listener. */
  close(): Promise<void>;
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const tunnels = new AgentTunnels(options.knownClustersFile);
  const now = options.now ?? (() => new Date());
  const streams = new LiveStreams(options.auth, now, options.metrics);
  const deps: KubeDeps = { auth: options.auth, tunnels, now, streams, log: options.log.child({ component: 'proxy' }), metrics: options.metrics };
  options.metrics?.observeTunnels(tunnels);
  const replicas = options.replicas ?? replicaSet(newReplicaId());
  const tunnel = tunnelServer({ tunnels, hostCaCertificates: options.auth.hostCaCertificates, audit: (...event) => options.auth.audit(...event), now, log: deps.log, replicas });
  const stopAnnouncing = announceReplicas(tunnels, replicas, deps.log);
  const { listener } = options;
  listener.attach({
    request: (req: Http2ServerRequest, res: Http2ServerResponse) => {
      const url = req.url ?? '/';
      if (url.startsWith('/k8s/')) return forwardKube(deps, req, res);
      if (url === '/v1/clusters' || url.startsWith('/v1/clusters?')) return listClusters(deps, req, res);
      if (KUBE_WITHOUT_PREFIX.test(url)) return sendStatus(res as never, 404, MISSING_PREFIX);
      options.fallback(req, res);
    },
    upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = req.url ?? '/';
      if (url.startsWith('/k8s/')) return upgradeKube(deps, req, socket, head);
      if (url === '/v1/tunnel') return tunnel.handleUpgrade(req, socket, head);
      if (KUBE_WITHOUT_PREFIX.test(url)) return refuseUpgrade(socket, 404, MISSING_PREFIX);
      refuseUpgrade(socket, 404, `nothing to upgrade at ${url}`);
    },
  });
  return {
    server: listener.server,
    tunnels,
    liveStreams: streams,
    replicas,
    setRecording: (on) => {
      deps.recordSessions = on;
    },
    close: async () => {
      stopAnnouncing();
      streams.close();
      streams.endAll('ztshd is shutting down; run the command again in a moment');
      tunnels.closeAll();
      tunnel.close();
      await listener.close();
    },
  };
}
