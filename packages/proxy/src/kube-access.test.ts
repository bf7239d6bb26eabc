import { beforeAll, describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import type { X509Certificate } from 'node:crypto';
import { TUNNEL_HEADERS, type Identity } from '@ztsh/protocol';
import { checkKubeAccess, clusterOffline, upstreamHeaders, type KubeAccess } from './kube-access.ts';
import { clientSocket, kubeDeps, MemoryAuthClient, onlineTunnel, testCa, type TestCa } from './kube-access.fixtures.ts';

const alice: Identity = {
  v: 1,
  user: 'alice',
  roles: ['developer'],
  kubernetesUsers: [],
  kubernetesGroups: ['developers'],
  traits: {},
  mfaVerified: true,
  loginId: 'l1',
  connector: 'dev',
  issuedForIp: '192.0.2.10',
};

const developer = {
  kind: 'role',
  version: 'v1',
  metadata: { name: 'developer' },
  spec: {
    allow: {
      kubernetes_labels: { env: ['dev'] },
      kubernetes_groups: ['developers'],
      kubernetes_resources: [{ kind: 'pods', verbs: ['get', 'list', 'watch', 'exec'] }],
    },
    deny: { kubernetes_resources: [{ kind: 'secrets', verbs: ['*'] }] },
  },
};

const NOW = new Date();
const HOUR = 3_600_000;

describe('checkKubeAccess', () => {
  let ca: TestCa;
  let cert: X509Certificate;
  beforeAll(() => {
    ca = testCa();
    cert = ca.issue(alice, { notBefore: new Date(NOW.getTime() - HOUR), notAfter: new Date(NOW.getTime() + HOUR) });
  });

  /** The proxy's state: alice's role, cluster sandbox (env=dev) online, prod (env=prod) online, gone (env=dev) offline. */
  function world(now = () => NOW) {
    const auth = new MemoryAuthClient(ca.pem, now);
    auth.define(developer);
    const deps = kubeDeps(auth, now);
    deps.tunnels.add(onlineTunnel('sandbox', { env: 'dev' }, NOW));
    deps.tunnels.add(onlineTunnel('prod', { env: 'prod' }, NOW));
    const gone = onlineTunnel('gone', { env: 'dev' }, NOW);
    deps.tunnels.add(gone);
    deps.tunnels.remove(gone, NOW);
    return { auth, deps };
  }

  const check = (w: ReturnType<typeof world>, url: string, options: { method?: string; headers?: IncomingHttpHeaders; kind?: 'plain' | 'upgrade'; cert?: X509Certificate | undefined } = {}) =>
    checkKubeAccess(w.deps, clientSocket('cert' in options ? options.cert : cert), options.method ?? 'GET', url, options.headers ?? {}, options.kind ?? 'plain');

  const refusal = (access: KubeAccess) => {
    if (access.ok) throw new Error('expected a refusal');
    return access;
  };

  it('lets alice list pods on a dev cluster, as her groups, to the canonical path', () => {
    const w = world();
    const access = check(w, '/k8s/sandbox/api/v1/namespaces/default/pods?limit=500');
    if (!access.ok) throw new Error(access.message);
    expect(access).toMatchObject({ user: 'alice', groups: ['developers'], upstreamPath: '/api/v1/namespaces/default/pods?limit=500', clientIp: '192.0.2.10' });
    expect(access.info).toMatchObject({ verb: 'list', resource: 'pods', namespace: 'default' });
    expect(access.tunnel.cluster).toBe('sandbox');
    // An allowed request is audited once its answer is known, not here.
    expect(w.auth.events).toEqual([]);
  });

  it('refuses what her role denies, and audits the refusal as a durable event', () => {
    const w = world();
    const denied = refusal(check(w, '/k8s/sandbox/api/v1/namespaces/default/secrets/db'));
    expect(denied).toMatchObject({ code: 403, message: 'access denied: role developer denies get secrets' });
    expect(w.auth.events).toEqual([
      {
        type: 'kube.request',
        success: false,
        durable: true,
        input: expect.objectContaining({
          user: 'alice',
          clientIp: '192.0.2.10',
          fields: expect.objectContaining({ cluster: 'sandbox', verb: 'get', resource: 'secrets', name: 'db', status: 403, reason: 'denied' }),
        }),
      },
    ]);
  });

  it('refuses a cluster no role of hers reaches by its labels', () => {
    const w = world();
    expect(refusal(check(w, '/k8s/prod/api/v1/namespaces/default/pods'))).toMatchObject({ code: 403, message: 'access denied: no role of alice allows cluster prod' });
  });

  it('refuses a locked user with the lock\'s message, and a locked role too', () => {
    const w = world();
    w.auth.lock({ id: 'l1', target: { user: 'alice' }, message: 'incident 7', createdBy: 'bob', createdAt: 0, expiresAt: null });
    expect(refusal(check(w, '/k8s/sandbox/api/v1/namespaces/default/pods'))).toMatchObject({ code: 403, message: 'access locked for user alice: incident 7 (lock l1)' });
    expect(w.auth.events[0]?.input.fields).toMatchObject({ reason: 'locked' });

    const byRole = world();
    byRole.auth.lock({ id: 'l2', target: { role: 'developer' }, message: null, createdBy: 'bob', createdAt: 0, expiresAt: NOW.getTime() + 1 });
    expect(refusal(check(byRole, '/k8s/sandbox/version')).code).toBe(403);
  });

  it('refuses an expired certificate, and audits it as the user it named', () => {
    const w = world(() => new Date(NOW.getTime() + 2 * HOUR));
    expect(refusal(check(w, '/k8s/sandbox/api/v1/namespaces/default/pods'))).toMatchObject({ code: 401, message: 'your ztsh certificate has expired: run ztsh login' });
    expect(w.auth.events[0]?.input).toMatchObject({ user: 'alice', fields: { reason: 'expired', certificateExpired: true, status: 401 } });
  });

  it('refuses no certificate, and one another CA issued', () => {
    const w = world();
    expect(refusal(check(w, '/k8s/sandbox/version', { cert: undefined }))).toMatchObject({ code: 401, message: 'a ztsh certificate is required: run ztsh login, then ztsh kube login' });
    const stranger = testCa('someone else').issue(alice, { notBefore: new Date(NOW.getTime() - HOUR), notAfter: new Date(NOW.getTime() + HOUR) });
    expect(refusal(check(w, '/k8s/sandbox/version', { cert: stranger }))).toMatchObject({ code: 401, message: 'this certificate was not issued by this ztsh: run ztsh login' });
    expect(w.auth.events.map((e) => e.input.user)).toEqual([undefined, undefined]);
  });

  it('says an unknown cluster is not found, and a known one whose agent left is offline', () => {
    const w = world();
    expect(refusal(check(w, '/k8s/nowhere/version'))).toMatchObject({ code: 403, message: 'cluster "nowhere" not found: ztsh kube ls lists the clusters you can reach' });
    expect(refusal(check(w, '/k8s/gone/api/v1/namespaces/default/pods'))).toMatchObject({ code: 503, message: clusterOffline('gone') });
    expect(w.auth.events.map((e) => e.input.fields?.reason)).toEqual(['unknown_cluster', 'offline']);
  });

  it('refuses every request while the proxy has lost touch with auth', () => {
    const w = world();
    w.auth.down = 'the proxy has lost touch with the auth service for 16 s';
    expect(refusal(check(w, '/k8s/sandbox/version'))).toMatchObject({ code: 503, message: w.auth.down });
  });

  it('lets each kind of request through only as what it is', () => {
    const w = world();
    expect(refusal(check(w, '/k8s/sandbox/api/v1/namespaces/default/pods/web/exec?command=sh'))).toMatchObject({ code: 400 });
    expect(refusal(check(w, '/k8s/sandbox/api/v1/namespaces/default/pods', { kind: 'upgrade' }))).toMatchObject({ code: 400 });
    const exec = check(w, '/k8s/sandbox/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true', { kind: 'upgrade' });
    expect(exec.ok).toBe(true);
  });

  it('refuses --as for a user no role allows, and never passes identity headers on', () => {
    const w = world();
    expect(refusal(check(w, '/k8s/sandbox/api/v1/namespaces/default/pods', { headers: { 'impersonate-user': 'admin' } }))).toMatchObject({
      code: 403,
      message: 'access denied: alice may not impersonate user admin',
    });
    const access = check(w, '/k8s/sandbox/api/v1/namespaces/default/pods', {
      headers: { accept: 'application/json', authorization: 'Bearer x', 'x-remote-user': 'admin', [TUNNEL_HEADERS.impersonateUser]: 'admin' },
    });
    if (!access.ok) throw new Error(access.message);
    expect(upstreamHeaders({ accept: 'application/json', authorization: 'Bearer x', 'x-remote-user': 'admin', [TUNNEL_HEADERS.impersonateUser]: 'admin' }, access)).toEqual({
      accept: 'application/json',
      [TUNNEL_HEADERS.impersonateUser]: 'alice',
      [TUNNEL_HEADERS.impersonateGroups]: '["developers"]',
    });
  });
});
