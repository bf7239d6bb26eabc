// An agent dialing one load-balanced address holds a tunnel to each proxy
// replica the replicas announce: it dials again until it has one per
// replica, a dial landing on a replica it holds is refused with 409 and
// tried again, it drops a replica that left the set and reaches one that
// joined, and each tunnel reconnects on its own. Real proxies, real
// tunnels, a real TCP load balancer (test/helpers/replica-proxies.ts).
import { constants } from 'node:http2';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startAgentOps, type AgentOps, type RunningAgent } from '@ztsh/agent';
import { TUNNEL_HEADERS } from '@ztsh/protocol';
import { killReplica, startReplicaWorld, type ReplicaWorld } from './helpers/replica-proxies.ts';

let world: ReplicaWorld;
let agent: RunningAgent;
let ops: AgentOps;

const holds = (ids: string[]) => (s: { held: string[] }) => s.held.join(',') === [...ids].sort().join(',');
const replica = (id: string) => world.replicas.find((r) => r.id === id)!;

/** A kube request through this replica's tunnel to cluster sandbox, as the proxy sends one. */
function throughTunnel(id: string, path: string): Promise<{ status: number; body: string }> {
  const tunnel = replica(id).proxy.tunnels.get('sandbox');
  if (!tunnel) throw new Error(`replica ${id} holds no tunnel of sandbox`);
  return new Promise((resolve, reject) => {
    const stream = tunnel.session.request({ [constants.HTTP2_HEADER_PATH]: path, [TUNNEL_HEADERS.impersonateUser]: `alice-via-${id}` });
    let body = '';
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

const metric = async (name: string) => (await ops.registry.getSingleMetric(name)!.get()).values[0]!.value;

beforeAll(async () => {
  world = await startReplicaWorld(['r1', 'r2', 'r3']);
  world.announce(['r1', 'r2', 'r3']);
  // The load balancer sends the first dials to r1 again and again before it spreads them: the agent must keep dialing.
  let sent = 0;
  const order = ['r1', 'r1', 'r1', 'r2', 'r1', 'r2'];
  let turn = 0;
  world.route(() => {
    const open = world.replicas.filter((r) => !r.closed);
    const id = order[sent++];
    return (id && open.find((r) => r.id === id)) || open[turn++ % open.length]!;
  });
  ops = await startAgentOps('127.0.0.1:0', pino({ level: 'silent' }));
  agent = await startAgent({
    proxy: world.url,
    cluster: 'sandbox',
    labels: { env: 'test' },
    stateDir: world.agentStateDir('sandbox'),
    token: () => undefined,
    proxyCa: world.tls.caCert,
    kube: { server: world.upstream.url, token: () => 'sa-token', ca: world.upstream.ca },
    log: pino({ level: process.env.AGENT_LOG ?? 'silent' }, pino.destination(2)),
    backoff: { baseMs: 20, maxMs: 200 },
    redial: { baseMs: 10, maxMs: 100 },
    metrics: ops.metrics,
  });
});

afterAll(async () => {
  await agent?.stop();
  await ops?.close();
  await world?.close();
});

describe('an agent behind one address', () => {
  it('holds one tunnel to each live replica, and every replica serves the cluster through its own', async () => {
    await agent.whenReplicas(holds(['r1', 'r2', 'r3']));
    expect(agent.replicas()).toEqual({ held: ['r1', 'r2', 'r3'], wanted: ['r1', 'r2', 'r3'] });
    // r1 was reached four times and refused the agent three times: its one tunnel was never replaced.
    expect(replica('r1').dials).toBeGreaterThanOrEqual(4);
    for (const id of ['r1', 'r2', 'r3']) {
      const answer = await throughTunnel(id, `/api/v1/namespaces/default/pods?from=${id}`);
      expect(answer.status).toBe(200);
      expect(world.upstream.seen.at(-1)).toEqual({ path: `/api/v1/namespaces/default/pods?from=${id}`, user: `alice-via-${id}` });
    }
    expect(await metric('ztsh_agent_tunnels')).toBe(3);
    expect(await metric('ztsh_agent_replicas')).toBe(3);
    expect(await metric('ztsh_agent_tunnel_up')).toBe(1);
    expect(await metric('ztsh_agent_reconnects_total')).toBe(0);
  });

  it('a duplicate dial does not replace the tunnel a replica holds', async () => {
    const before = replica('r1').proxy.tunnels.get('sandbox');
    // Every dial now lands on r1, which the agent holds: 409 each time, nothing registered.
    world.route(() => replica('r1'));
    const dials = replica('r1').dials;
    world.announce(['r1', 'r2', 'r3', 'r4']);
    while (replica('r1').dials < dials + 3) await new Promise((resolve) => replica('r1').proxy.server.once('upgrade', resolve));
    expect(replica('r1').proxy.tunnels.get('sandbox')).toBe(before);
    expect(agent.replicas().held).toEqual(['r1', 'r2', 'r3']);
    // r4 never came: the set goes back to three, and the agent stops dialing for it.
    world.announce(['r1', 'r2', 'r3']);
    await agent.whenReplicas((s) => s.wanted?.length === 3);
    expect(await throughTunnel('r1', '/still-up')).toMatchObject({ status: 200 });
  });

  it('drops a replica that left the set, and reaches it again once it is back', async () => {
    let turn = 0;
    world.route(() => {
      const open = world.replicas.filter((r) => !r.closed);
      return open[turn++ % open.length]!;
    });
    // r3 still runs but no longer heartbeats: the others announce the set without it.
    replica('r1').replicas.update(['r1', 'r2']);
    replica('r2').replicas.update(['r1', 'r2']);
    await agent.whenReplicas(holds(['r1', 'r2']));
    await expect.poll(() => replica('r3').proxy.tunnels.get('sandbox')).toBeUndefined();
    expect(await metric('ztsh_agent_reconnects_total')).toBe(0);

    world.announce(['r1', 'r2', 'r3']);
    await agent.whenReplicas(holds(['r1', 'r2', 'r3']));
    expect(await throughTunnel('r3', '/back')).toMatchObject({ status: 200 });
  });

  it('a replica that dies costs only its own tunnel, which is redialed with backoff and counted', async () => {
    await killReplica(world, 'r2');
    await agent.whenReplicas(holds(['r1', 'r3']));
    expect(await metric('ztsh_agent_reconnects_total')).toBeGreaterThanOrEqual(1);
    // The others still serve while r2 is in the set and the agent looks for it.
    expect(await throughTunnel('r1', '/while-r2-is-gone')).toMatchObject({ status: 200 });
    expect(await throughTunnel('r3', '/while-r2-is-gone')).toMatchObject({ status: 200 });
    // Its heartbeat ages out: the set is the two left, and the agent holds exactly those.
    world.announce(['r1', 'r3']);
    await agent.whenReplicas((s) => s.wanted?.join(',') === 'r1,r3');
    expect(agent.replicas().held).toEqual(['r1', 'r3']);
    expect(await metric('ztsh_agent_tunnels')).toBe(2);
    expect(await metric('ztsh_agent_replicas')).toBe(2);
  });
});
