import { describe, expect, it } from 'vitest';
import type { RunningAgent } from '@ztsh/agent';
import { devBanner, type DevBannerInput } from './dev-banner.ts';
import type { DevCluster } from './dev-cluster.ts';
import { DEV_USERS } from './dev-stack.ts';

const agent = {} as RunningAgent;
const close = async () => undefined;
const sandbox: DevCluster = { name: 'sandbox', labels: { env: 'sandbox' }, source: { kind: 'sandbox' }, agent, close };
const kind: DevCluster = {
  name: 'kind-kind',
  labels: { env: 'dev', source: 'kubeconfig' },
  source: { kind: 'kubeconfig', context: 'kind-kind', server: new URL('https://127.0.0.1:40123'), credentials: 'client certificate', version: 'v1.33.1' },
  agent,
  close,
};

function banner(cluster: DevCluster | undefined, extra: Partial<DevBannerInput> & { kubeconfigNotUsed?: string } = {}): string {
  return devBanner({
    stack: { url: new URL('https://localhost:3080'), idp: { issuer: 'https://localhost:4000' } as DevBannerInput['stack']['idp'], cluster, kubeconfigNotUsed: extra.kubeconfigNotUsed },
    users: DEV_USERS,
    dataDir: '/d',
    tlsCaFile: '/d/tls/ca.crt',
    trustFile: '/h/trust/localhost_3080.pem',
    host: '127.0.0.1',
    sandboxOnly: false,
    ...extra,
  });
}

describe('devBanner', () => {
  it('names the kubeconfig context served, and the cluster in the next steps', () => {
    const text = banner(kind);
    expect(text).toContain(
      '  cluster         kind-kind (env=dev,source=kubeconfig): your kubeconfig context "kind-kind", https://127.0.0.1:40123 (Kubernetes v1.33.1), behind an agent using the context\'s client certificate\n',
    );
    expect(text).not.toMatch(/^ {2}kubeconfig /m);
    expect(text).toContain('  pnpm -s ztsh kube login kind-kind\n  kubectl get pods\n');
    expect(text).toContain('kubectl --context kind-kind create clusterrolebinding ztsh-dev-developers --clusterrole=view --group=developers');
    expect(text).not.toContain('Warning');
  });

  it('says in one line why the kubeconfig context was not used', () => {
    const text = banner(sandbox, { kubeconfigNotUsed: 'no kubeconfig at /h/.kube/config' });
    expect(text).toContain('  cluster         sandbox (env=sandbox): the kube-apiserver test double, behind an agent that dialled the proxy\n  kubeconfig      not used: no kubeconfig at /h/.kube/config\n');
    expect(text).toContain('  pnpm -s ztsh kube login sandbox\n');
    expect(text).not.toContain('clusterrolebinding');
  });

  it('says the kubeconfig was not looked at with --sandbox-only', () => {
    expect(banner(sandbox, { sandboxOnly: true })).toMatch(/^ {2}kubeconfig {6}not looked at \(--sandbox-only\)$/m);
  });

  it('warns when a real cluster is served on a non-loopback address', () => {
    expect(banner(kind, { host: '0.0.0.0' })).toContain('Warning: these passwords are public and the stack listens on 0.0.0.0');
    expect(banner(sandbox, { host: '0.0.0.0' })).not.toContain('Warning');
  });
});

describe('devBanner, auth and proxy apart', () => {
  it('names both listeners', () => {
    const text = devBanner({
      stack: { url: new URL('https://localhost:3080'), idp: { issuer: 'https://localhost:4000' } as never, cluster: undefined, kubeconfigNotUsed: undefined, split: { auth: { url: new URL('https://127.0.0.1:3025') } } },
      users: [],
      dataDir: '/tmp/dev',
      tlsCaFile: '/tmp/dev/tls/ca.crt',
      trustFile: '/tmp/trust.pem',
      host: '127.0.0.1',
      sandboxOnly: true,
    });
    expect(text).toContain('  proxy           https://localhost:3080');
    expect(text).toContain('  auth (apart)    https://127.0.0.1:3025 (proxies only; its data in /tmp/dev/auth)');
    expect(text).not.toContain('proxy and auth');
  });
});
