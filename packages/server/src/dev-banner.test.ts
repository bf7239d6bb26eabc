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

describe('devBanner, replicas behind the front', () => {
  const replicas = {
    frontPid: 100,
    list: [
      { name: 'r1', pid: 101, host: '127.0.0.1', port: 40001, up: true },
      { name: 'r2', pid: 102, host: '127.0.0.1', port: 40002, up: false },
      { name: 'r3', pid: 103, host: '127.0.0.1', port: 40003, up: true },
    ],
    store: 'postgres://ztsh@127.0.0.1:5432/ztsh',
    dir: '/d/replicas',
  };

  it('names the one address, each replica with its pid and whether it is up, and the shared store', () => {
    const text = banner(sandbox, { replicas });
    expect(text).toContain(
      [
        '  front           https://localhost:3080 (haproxy, pid 100; TLS passes through to the replicas)',
        '  replicas        2 of 3 up, auth and proxy in each (ztshd start)',
        '    r1  up    pid 101     127.0.0.1:40001',
        '    r2  down  pid 102     127.0.0.1:40002',
        '    r3  up    pid 103     127.0.0.1:40003',
        '  store           PostgreSQL postgres://ztsh@127.0.0.1:5432/ztsh, shared by the replicas (CA pairs, users, audit log, recordings)',
      ].join('\n'),
    );
    expect(text).toContain("  data dir        /d (TLS; each replica's ztsh.yaml, ztshd.log and ztshd.pid in /d/replicas/rN)\n");
    expect(text).toContain('  pnpm -s ztsh login --proxy https://localhost:3080\n');
    expect(text).toContain('To see a replica die: kill -9 103 (r3); the next command goes to another one.');
    expect(text).not.toContain('proxy and auth');
    expect(text).not.toContain('SQLite');
  });

  it('one replica: no invitation to kill it', () => {
    expect(banner(sandbox, { replicas: { ...replicas, list: [replicas.list[0]!] } })).not.toContain('kill -9');
  });
});
