// Item 16 of the security review: what kubectl shows when ztsh refuses is
// what is true, in a form kubectl prints.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { findKubectl, runKubectl, startKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoThrough } from '../helpers/echo.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest } from './helpers/raw-client.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

const kubectl133 = findKubectl('1.33', process.env.PATH)!;

/** alice's kubeconfig with the cluster path pointed elsewhere. */
function kubeconfigFor(cluster: string): Record<string, string> {
  const file = join(k.home, `kubeconfig-${cluster}`);
  writeFileSync(file, readFileSync(k.kubeconfig, 'utf8').replaceAll('/k8s/sandbox', `/k8s/${cluster}`));
  return { ...(k.env as Record<string, string>), KUBECONFIG: file };
}

describe('item 16: errors kubectl would hide', () => {
  it('an unknown cluster says so in what kubectl prints', async () => {
    const r = await runKubectl(kubectl133, ['get', 'pods'], { env: kubeconfigFor('nosuch'), timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cluster "nosuch" not found');
  });
});

describe('item 16: paths without the cluster prefix, and kubectl 1.30 port-forward', () => {
  it('kubectl get --raw /openapi/v3, which drops the /k8s/<cluster> prefix, gets a Status that says how to write it', async () => {
    const r = await runKubectl(kubectl133, ['get', '--raw', '/openapi/v3'], { env: k.env as Record<string, string>, timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('kubectl get --raw /k8s/<cluster>/openapi/v3');
    const raw = await rawRequest(k.stack, { path: '/openapi/v3', as: k.alice });
    expect(raw.status).toBe(404);
    expect(raw.json()).toMatchObject({ kind: 'Status', code: 404 });
    const withPrefix = await runKubectl(kubectl133, ['get', '--raw', '/k8s/sandbox/openapi/v3'], { env: k.env as Record<string, string>, timeoutMs: 30_000 });
    expect(withPrefix.code, withPrefix.stderr).toBe(0);
    expect(JSON.parse(withPrefix.stdout)).toHaveProperty('paths');
  });

  it('kubectl 1.30 port-forward over SPDY (without KUBECTL_PORT_FORWARD_WEBSOCKETS) works: authorized, audited, bytes counted', async () => {
    const kubectl130 = findKubectl('1.30', process.env.PATH)!;
    const env = { ...(k.env as Record<string, string>) };
    delete env.KUBECTL_PORT_FORWARD_WEBSOCKETS;
    const before = k.kube.requests.length;
    const pf = startKubectl(kubectl130, ['port-forward', 'pod/web-1', `:${k.kube.echoServerPort}`], env);
    const [, port] = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+)/);
    const socket = connect(Number(port), '127.0.0.1');
    const echoed = await echoThrough(socket, 'spdy-through', () => `kubectl said: ${pf.output()}`);
    expect(echoed).toBe('spdy-through');
    socket.destroy();
    await pf.stop();
    expect(k.kube.requests.slice(before).map((r) => r.upgrade)).toContain('SPDY/3.1');
    await expect
      .poll(async () => (await k.stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === 'port_forward.end').at(-1)?.fields)
      .toMatchObject({ kind: 'portforward', pod: 'web-1' });
    const end = (await k.stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === 'port_forward.end').at(-1)!;
    expect(end.fields.bytesIn).toBeGreaterThanOrEqual(12);
    expect(end.fields.bytesOut).toBeGreaterThanOrEqual(12);
  });

  it('a lock ends a SPDY port-forward, as it ends any session', async () => {
    const kubectl130 = findKubectl('1.30', process.env.PATH)!;
    const env = { ...(k.env as Record<string, string>) };
    delete env.KUBECTL_PORT_FORWARD_WEBSOCKETS;
    const pf = startKubectl(kubectl130, ['port-forward', 'pod/web-1', `:${k.kube.echoServerPort}`], env);
    const [, port] = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+)/);
    const socket = connect(Number(port), '127.0.0.1');
    expect(await echoThrough(socket, 'before the lock')).toBe('before the lock');
    const lock = await k.stack.ztshd.auth.deps.locks.add({ target: { user: 'alice' }, message: 'incident 16', createdBy: 'test' });
    try {
      await pf.waitFor(/lost connection to pod|error/i);
      await expect
        .poll(async () => (await k.stack.ztshd.auth.storage.audit.list({ limit: 100_000 })).filter((e) => e.type === 'port_forward.end').at(-1)?.fields.endReason)
        .toBe('locked');
    } finally {
      socket.destroy();
      await pf.stop();
      await k.stack.ztshd.auth.deps.locks.remove(lock.id, 'test');
    }
  });

  it('exec over SPDY (kubectl 1.29 and older, or a retry) is still refused, naming the kubectl needed', async () => {
    const before = k.kube.requests.length;
    const r = await rawRequest(k.stack, {
      method: 'POST',
      path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdin=true',
      as: k.alice,
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' },
    });
    expect(r.status).toBe(400);
    expect(r.json().message).toContain('kubectl 1.30 or newer');
    expect(k.kube.requests.length).toBe(before);
  });
});
