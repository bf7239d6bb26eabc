// Tells every connected agent when the live replica set changes, so each
// can dial the replicas that joined and drop those that left. The agent
// learns the set first on its upgrade's answer (tunnel-server.ts); this is a
// request on the tunnel, which the agent answers itself and never forwards
// (it carries x-ztsh-control, which no user's request can: the proxy drops
// every x-ztsh-* header a client sends).
import { constants } from 'node:http2';
import type { Logger } from 'pino';
import { formatReplicaList, REPLICAS_CONTROL, TUNNEL_HEADERS } from '@ztsh/protocol';
import type { AgentTunnel, AgentTunnels } from './agent-tunnels.ts';
import type { ReplicaSet } from './replica-set.ts';

/** An agent that has not answered by then has a tunnel in trouble; the next change, or its redial, tells it again. */
const ANSWER_WITHIN_MS = 10_000;

export function announceReplicas(tunnels: AgentTunnels, replicas: ReplicaSet, log: Logger): () => void {
  return replicas.subscribe((ids) => {
    const value = formatReplicaList(ids);
    for (const tunnel of tunnels.live()) announce(tunnel, replicas.self, value, log);
  });
}

export function announce(tunnel: AgentTunnel, self: string, set: string, log: Logger): void {
  const where = { cluster: tunnel.cluster, hostId: tunnel.hostId };
  try {
    const stream = tunnel.session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: REPLICAS_CONTROL.path,
      [TUNNEL_HEADERS.control]: REPLICAS_CONTROL.value,
      [TUNNEL_HEADERS.replicaId]: self,
      [TUNNEL_HEADERS.replicas]: set,
    }, { endStream: true });
    stream.setTimeout(ANSWER_WITHIN_MS, () => stream.close(constants.NGHTTP2_CANCEL));
    stream.on('response', (headers) => {
      const status = Number(headers[constants.HTTP2_HEADER_STATUS]);
      if (status !== 204) log.warn({ ...where, status }, 'the agent did not take the replica set');
      else log.debug({ ...where, replicas: set }, 'replica set told to the agent');
    });
    stream.on('error', (err) => log.debug({ ...where, err }, 'the replica set could not be told to the agent'));
    stream.resume();
  } catch (err) {
    log.debug({ ...where, err }, 'the replica set could not be told to the agent');
  }
}
