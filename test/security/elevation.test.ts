// Elevated certificates (issue 13): what an access request lends is all it
// lends. A request for one pod reaches that pod (and its exec, log, attach,
// port-forward) on its cluster and nothing else: not another pod, not a
// list, not another cluster. The deny rules of the login's own roles still
// win. A certificate claiming access requests that the user CA did not sign
// is refused as any forged certificate is. Certificates here are made with
// the running auth service's own CA (what POST /v1/certificates/reissue
// signs), for alice's key, so only the identity differs from hers.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, loadOrCreateAuthority, systemClock, type CertAuthority } from '@ztsh/auth';
import { identityFromCertificate, type Identity } from '@ztsh/protocol';
import { DEV_ROLES } from '@ztsh/server';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest, type Credentials } from './helpers/raw-client.ts';

const developer = DEV_ROLES.find((r) => r.metadata.name === 'developer')!;
const ROLES: typeof DEV_ROLES = [
  ...DEV_ROLES.filter((r) => r !== developer),
  { ...developer, spec: { ...developer.spec, allow: { ...developer.spec!.allow, request: { roles: ['prod-admin'], search_as_roles: ['prod-debugger'] } } } },
  {
    kind: 'role' as const,
    version: 'v1' as const,
    metadata: { name: 'prod-admin' },
    spec: { allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-admins'], kubernetes_resources: [{ kind: '*', namespace: '*', name: '*', verbs: ['*'] }] } },
  },
  {
    kind: 'role' as const,
    version: 'v1' as const,
    metadata: { name: 'prod-debugger' },
    spec: { allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-debuggers'], kubernetes_resources: [{ kind: 'pods', namespace: '*', name: '*', verbs: ['get', 'list', 'watch', 'exec'] }] } },
  },
];

let k: KubeEnv;
let aliceIdentity: Identity;
let alicePublicKey: Buffer;

beforeAll(async () => {
  k = await startKubeEnv({ roles: ROLES });
  await k.addAgent('prod', { env: 'prod' });
  await k.addAgent('prod-2', { env: 'prod' });
  k.kube.addPod('default', 'web-1');
  k.kube.addPod('default', 'web-2');
  aliceIdentity = identityFromCertificate(new X509Certificate(k.alice.cert).raw)!;
  alicePublicKey = createPublicKey(k.alice.key).export({ type: 'spki', format: 'der' });
}, 120_000);
afterAll(() => k?.close());

/** alice's key, her identity plus `change`, signed by `ca` (the stack's user CA unless told). */
function certificate(change: Partial<Identity>, ca: CertAuthority = k.stack.ztshd.auth.userCa): Credentials {
  const now = Date.now();
  const issued = issueCertificate({ ca, publicKey: alicePublicKey, identity: { ...aliceIdentity, ...change }, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
  return { cert: issued.pem, key: k.alice.key };
}

const web1Only = (): Credentials =>
  certificate({
    kubernetesGroups: [...aliceIdentity.kubernetesGroups, 'prod-debuggers'],
    accessRequests: [{ id: 'req-web-1', roles: ['prod-debugger'], resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }] }],
  });
const get = (as: Credentials, path: string) => rawRequest(k.stack, { path, as });

async function auditSince(count: number) {
  return (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).slice(count);
}
const auditCount = async () => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).length;

function exec(as: Credentials, cluster: string, pod: string): Promise<{ opened: boolean; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${k.stack.url.port}/k8s/${cluster}/api/v1/namespaces/default/pods/${pod}/exec?command=true&stdout=true`, ['v5.channel.k8s.io'], {
      ca: k.stack.tlsCa,
      cert: as.cert,
      key: as.key,
    });
    ws.on('open', () => {
      ws.close();
      resolve({ opened: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ opened: false, status: res.statusCode });
    });
    ws.on('error', reject);
  });
}

describe('a request for one pod', () => {
  it('reaches that pod, through discovery first, and the audit names the request', async () => {
    const as = web1Only();
    const before = await auditCount();
    expect((await get(as, '/k8s/prod/api')).status).toBe(200);
    const pod = await get(as, '/k8s/prod/api/v1/namespaces/default/pods/web-1');
    expect(pod.status, pod.body).toBe(200);
    expect(pod.json().metadata.name).toBe('web-1');
    expect(await exec(as, 'prod', 'web-1')).toEqual({ opened: true });
    // kubectl get pod web-1 -w: a list narrowed to that one pod, which the apiserver (and its RBAC) treats as a request for it.
    const one = await get(as, '/k8s/prod/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1');
    expect(one.status, one.body).toBe(200);
    expect(one.json().items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(['web-1']);
    await expect
      .poll(async () => (await auditSince(before)).filter((e) => e.type === 'kube.request' && e.success && e.fields.cluster === 'prod').map((e) => e.fields.accessRequests))
      .toEqual([['req-web-1'], ['req-web-1'], ['req-web-1'], ['req-web-1']]);
    await expect.poll(async () => (await auditSince(before)).find((e) => e.type === 'session.start')?.fields).toMatchObject({ pod: 'web-1', accessRequests: ['req-web-1'], kubernetesGroups: ['prod-debuggers'] });
  });

  it('cannot reach another pod, list pods, or the same pod on another cluster', async () => {
    const as = web1Only();
    for (const path of [
      '/k8s/prod/api/v1/namespaces/default/pods/web-2',
      '/k8s/prod/api/v1/namespaces/default/pods',
      '/k8s/prod/api/v1/pods',
      '/k8s/prod/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-2',
      '/k8s/prod/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1,status.phase%3DRunning',
      '/k8s/prod/api/v1/namespaces/default/pods?labelSelector=app%3Dweb-1',
      '/k8s/prod/api/v1/namespaces/default/pods/web-1/ephemeralcontainers',
      '/k8s/prod/api/v1/namespaces/default/configmaps/web-1',
      '/k8s/prod-2/api/v1/namespaces/default/pods/web-1',
      '/k8s/prod-2/api',
      // Case, encodings and dot segments name nothing else: they are refused before the grant is asked.
      '/k8s/prod/api/v1/namespaces/default/pods/WEB-1',
      '/k8s/prod/api/v1/namespaces/default/pods/web-1%2F..%2Fweb-2',
      '/k8s/prod/api/v1/namespaces/default/pods/web-1/../web-2',
      '/k8s/PROD/api/v1/namespaces/default/pods/web-1',
    ]) {
      const r = await get(as, path);
      expect([400, 403, 404], `${path}: ${r.status} ${r.body}`).toContain(r.status);
      expect(r.status === 404 ? r.body : '', path).not.toContain('web-');
    }
    expect(await exec(as, 'prod', 'web-2')).toEqual({ opened: false, status: 403 });
    expect(await exec(as, 'prod-2', 'web-1')).toEqual({ opened: false, status: 403 });
  });

  it('is not the same as being allowed the cluster: /v1/clusters lists prod only, and prod-2 as requestable', async () => {
    const r = await get(web1Only(), '/v1/clusters');
    expect(r.status).toBe(200);
    const body = r.json() as { clusters: { name: string }[]; requestable: { name: string; roles: string[] }[] };
    expect(body.clusters.map((c) => c.name)).toEqual(['prod', 'sandbox']);
    expect(body.requestable).toEqual([{ name: 'prod-2', labels: { env: 'prod' }, roles: ['prod-admin'] }]);
  });
});

describe('a request for a whole role', () => {
  const prodAdmin = () =>
    certificate({ kubernetesGroups: [...aliceIdentity.kubernetesGroups, 'prod-admins'], accessRequests: [{ id: 'req-admin', roles: ['prod-admin'] }] });

  it('does not lift a deny of the own roles: secrets stay refused, the refusal names the request', async () => {
    const before = await auditCount();
    const r = await get(prodAdmin(), '/k8s/prod/api/v1/namespaces/default/secrets/db');
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ kind: 'Status', code: 403 });
    expect(r.json().message).toContain('role developer denies get secrets');
    const refusal = (await auditSince(before)).find((e) => e.type === 'kube.request');
    expect(refusal).toMatchObject({ success: false, fields: { reason: 'denied', accessRequests: ['req-admin'] } });
  });

  it('may not pick principals outside the certificate with --as-group', async () => {
    const r = await rawRequest(k.stack, { path: '/k8s/prod/api/v1/namespaces/default/pods', as: prodAdmin(), headers: { 'Impersonate-User': 'alice', 'Impersonate-Group': 'system:masters' } });
    expect(r.status).toBe(403);
  });
});

describe('certificates ztsh did not sign', () => {
  it('a certificate carrying an access request, signed by another CA of the same name, is refused, and nothing is done under it', async () => {
    const rogue = await loadOrCreateAuthority({ dir: mkdtempSync(join(tmpdir(), 'ztsh-rogue-ca-')), kind: 'user', clusterName: /O=([^,+]+)/.exec(k.stack.ztshd.auth.userCa.certificate.subject)![1]!, clock: systemClock });
    expect(rogue.certificate.subject).toBe(k.stack.ztshd.auth.userCa.certificate.subject);
    const forged = certificate({ kubernetesGroups: ['prod-admins'], accessRequests: [{ id: 'req-forged', roles: ['prod-admin', 'devops-admin'] }] }, rogue);
    const before = await auditCount();
    for (const path of ['/k8s/prod/api/v1/namespaces/default/pods', '/v1/clusters']) {
      const r = await get(forged, path).catch((error: Error) => ({ status: 0, body: error.message }));
      expect([0, 401], `${path}: ${r.status} ${r.body}`).toContain(r.status);
    }
    expect(await exec(forged, 'prod', 'web-1').catch(() => ({ opened: false }))).toMatchObject({ opened: false });
    // Nothing was done under the forged request.
    const events = await auditSince(before);
    expect(events.filter((e) => e.success && JSON.stringify(e.fields).includes('req-forged'))).toEqual([]);
    expect(events.filter((e) => e.type === 'kube.request' && e.success)).toEqual([]);
  });

  it('a genuine certificate with its identity edited no longer verifies', async () => {
    const genuine = new X509Certificate(k.alice.cert).raw;
    const uri = Buffer.from('urn:ztsh:identity:v1:', 'ascii');
    const at = genuine.indexOf(uri) + uri.length;
    expect(identityFromCertificate(genuine)?.user).toBe('alice');
    // One byte of the identity changed: the CA's signature no longer covers it.
    const edited = Buffer.from(genuine);
    edited[at + 10] = edited[at + 10] === 0x41 ? 0x42 : 0x41;
    const pem = `-----BEGIN CERTIFICATE-----\n${edited.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const r = await get({ cert: pem, key: k.alice.key }, '/k8s/sandbox/api/v1/namespaces/default/pods').catch((error: Error) => ({ status: 0, body: error.message }));
    expect([0, 401], `${r.status} ${r.body}`).toContain(r.status);
  });
});
