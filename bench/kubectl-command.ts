// The whole `kubectl get pods`, the time a user feels: the real kubectl 1.33
// against the apiserver double directly, through `kubectl proxy` (the real
// binary: Go's one-hop reverse proxy, the peer) and through ztsh with the
// kubeconfig `ztsh kube login` writes (the certificate file; no process
// started per command). Every part runs in its own process as deployed
// (kubectl-parts.ts): the apiserver double, ztshd, the agent, kubectl proxy;
// this process only starts kubectl, one run at a time, alternating the three.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { storeLogin } from '../test/helpers/profile.ts';
import { ZTSH } from '../test/helpers/source-bins.ts';
import { startDeployed } from './deployed.ts';

export interface KubectlCommandTimes {
  directMs: number;
  kubectlProxyMs: number;
  ztshMs: number;
  runs: number;
  version: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timedGetPods(kubectl: string, env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const r = spawnSync(kubectl, ['get', 'pods'], { env, encoding: 'utf8' });
  const ms = performance.now() - start;
  if (r.status !== 0 || !r.stdout.includes('web-1')) throw new Error(`kubectl get pods (KUBECONFIG=${env.KUBECONFIG}) exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function measureKubectlCommand(runs = 20, version = '1.33'): Promise<KubectlCommandTimes> {
  const d = await startDeployed(version);
  try {
    // Three kubeconfigs, each with its own discovery cache under the same HOME.
    const home = join(d.dir, 'home');
    const proxyUrl = new URL(d.ztshd.url);
    storeLogin(home, proxyUrl, d.ztshd.tlsCa, d.alice);
    const base = { PATH: process.env.PATH, HOME: home };
    const viaZtsh = { ...base, KUBECONFIG: join(d.dir, 'ztsh.kubeconfig') };
    const loggedIn = spawnSync(process.execPath, [...ZTSH, 'kube', 'login', 'sandbox'], { env: { ...viaZtsh, ZTSH_HOME: home }, encoding: 'utf8' });
    if (loggedIn.status !== 0) throw new Error(`ztsh kube login: ${loggedIn.stderr}`);
    const direct = { ...base, KUBECONFIG: d.directKubeconfig };
    const viaKubectlProxy = { ...base, KUBECONFIG: join(d.dir, 'kubectl-proxy.kubeconfig') };
    writeFileSync(
      viaKubectlProxy.KUBECONFIG,
      JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'p', cluster: { server: d.kubectlProxy.url } }], users: [{ name: 'p', user: {} }], contexts: [{ name: 'p', context: { cluster: 'p', user: 'p', namespace: 'default' } }], 'current-context': 'p' }),
    );

    const targets = [direct, viaKubectlProxy, viaZtsh];
    for (let i = 0; i < 3; i++) for (const env of targets) timedGetPods(d.kubectl, env);
    const times: number[][] = targets.map(() => []);
    for (let i = 0; i < runs; i++) targets.forEach((env, t) => times[t]!.push(timedGetPods(d.kubectl, env)));
    return { directMs: median(times[0]!), kubectlProxyMs: median(times[1]!), ztshMs: median(times[2]!), runs, version };
  } finally {
    await d.close();
  }
}
