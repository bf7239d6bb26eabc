import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentMetrics, startAgentOps, type AgentOps } from './metrics.ts';

const running: AgentOps[] = [];
afterEach(async () => {
  for (const o of running.splice(0)) await o.close();
});

describe('agent metrics', () => {
  it('counts requests by kind and code, bytes by direction, reconnects, and the tunnel state', async () => {
    const registry = new Registry();
    const m = createAgentMetrics(registry);
    m.request('plain', 200);
    m.request('upgrade', 101);
    m.request('plain', 1_000_000);
    m.bytes('to_apiserver', 10);
    m.bytes('from_apiserver', 5);
    m.bytes('from_apiserver', 7);
    m.reconnect();
    m.tunnel(true);
    const json = await registry.getMetricsAsJSON();
    const values = (name: string) => json.find((x) => x.name === name)!.values;
    expect(values('ztsh_agent_requests_total').map((v) => [v.labels, v.value])).toEqual([
      [{ kind: 'plain', code: '200' }, 1],
      [{ kind: 'upgrade', code: '101' }, 1],
      [{ kind: 'plain', code: 'other' }, 1],
    ]);
    expect(values('ztsh_agent_bytes_total').map((v) => [v.labels.direction, v.value])).toEqual([['to_apiserver', 10], ['from_apiserver', 12]]);
    expect(values('ztsh_agent_reconnects_total')[0]!.value).toBe(1);
    expect(values('ztsh_agent_tunnel_up')[0]!.value).toBe(1);
    expect(m.tunnelUp).toBe(true);
  });

  it('its listener is ready only while the tunnel is up, and serves the metrics', async () => {
    const ops = await startAgentOps('127.0.0.1:0', pino({ level: 'silent' }));
    running.push(ops);
    const get = async (path: string) => {
      const res = await fetch(new URL(path, ops.url));
      return [res.status, await res.text()] as const;
    };
    expect(await get('/healthz')).toEqual([200, 'ok\n']);
    expect(await get('/readyz')).toEqual([503, 'not ready: tunnel down\n']);
    ops.metrics.tunnel(true);
    expect(await get('/readyz')).toEqual([200, 'ok\n']);
    const [status, text] = await get('/metrics');
    expect(status).toBe(200);
    expect(text).toMatch(/^ztsh_agent_tunnel_up 1$/m);
    expect((await get('/anything'))[0]).toBe(404);
  });

  it('names the setting when its address cannot be bound', async () => {
    const ops = await startAgentOps('127.0.0.1:0', pino({ level: 'silent' }));
    running.push(ops);
    await expect(startAgentOps(`127.0.0.1:${ops.url.port}`, pino({ level: 'silent' }))).rejects.toThrow(/metrics\.listen: cannot listen on 127\.0\.0\.1:\d+/);
  });
});
