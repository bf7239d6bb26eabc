// Item 16 of the security review: what kubectl shows when ztsh refuses is
// what is true, in a form kubectl prints.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('kubectl 1.30 port-forward over SPDY is told the variable that makes it use WebSocket', async () => {
    const kubectl130 = findKubectl('1.30', process.env.PATH)!;
    const env = { ...(k.env as Record<string, string>) };
    delete env.KUBECTL_PORT_FORWARD_WEBSOCKETS;
    const r = await runKubectl(kubectl130, ['port-forward', 'web-1', '0:8080'], { env, timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('KUBECTL_PORT_FORWARD_WEBSOCKETS=true');
  });
});
