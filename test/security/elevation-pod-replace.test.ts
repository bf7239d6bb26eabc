// A request for one pod under a broad role (the documented example:
// developers may ask for prod-admin on /prod/pod/default/web-1) lends that
// role for the pod's name, whatever the verb. The reviewer approved access to
// the running web-1; the name alone also lets the requester delete it and
// create a new pod of that name with any spec (privileged, hostPath, another
// service account, another node) by a server-side apply PATCH, which the
// apiserver turns into a create when the object does not exist. That is far
// more than the pod: root on a node of the production cluster.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '@ztsh/auth';
import { identityFromCertificate, type Identity } from '@ztsh/protocol';
import { DEV_ROLES } from '@ztsh/server';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest, type Credentials } from './helpers/raw-client.ts';

const developer = DEV_ROLES.find((r) => r.metadata.name === 'developer')!;
const ROLES: typeof DEV_ROLES = [
  ...DEV_ROLES.filter((r) => r !== developer),
  { ...developer, spec: { ...developer.spec, allow: { ...developer.spec!.allow, request: { search_as_roles: ['prod-admin'] } } } },
  {
    kind: 'role' as const,
    version: 'v1' as const,
    metadata: { name: 'prod-admin' },
    spec: { allow: { kubernetes_labels: { env: 'prod' }, kubernetes_groups: ['prod-admins'], kubernetes_resources: [{ kind: '*', namespace: '*', name: '*', verbs: ['*'] }] } },
  },
];

let k: KubeEnv;
let aliceIdentity: Identity;
let alicePublicKey: Buffer;

beforeAll(async () => {
  k = await startKubeEnv({ roles: ROLES });
  await k.addAgent('prod', { env: 'prod' });
  k.kube.addPod('default', 'web-1');
  aliceIdentity = identityFromCertificate(new X509Certificate(k.alice.cert).raw)!;
  alicePublicKey = createPublicKey(k.alice.key).export({ type: 'spki', format: 'der' });
}, 120_000);
afterAll(() => k?.close());

/** What POST /v1/certificates/reissue gives alice for an approved request of prod-admin on /prod/pod/default/web-1. */
function web1Only(): Credentials {
  const now = Date.now();
  const identity: Identity = {
    ...aliceIdentity,
    kubernetesGroups: [...aliceIdentity.kubernetesGroups, 'prod-admins'],
    accessRequests: [{ id: 'req-web-1', roles: ['prod-admin'], resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }] }],
  };
  const issued = issueCertificate({ ca: k.stack.ztshd.auth.userCa, publicKey: alicePublicKey, identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
  return { cert: issued.pem, key: k.alice.key };
}

const PRIVILEGED = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'default' },
  spec: {
    hostPID: true,
    serviceAccountName: 'cluster-admin-sa',
    containers: [{ name: 'x', image: 'busybox', securityContext: { privileged: true }, volumeMounts: [{ name: 'root', mountPath: '/host' }] }],
    volumes: [{ name: 'root', hostPath: { path: '/' } }],
  },
});

describe('a request for one pod under a broad role', () => {
  it('does not let the requester replace the pod with one of their own making', async () => {
    const as = web1Only();
    // Reading the pod is what was approved.
    expect((await rawRequest(k.stack, { path: '/k8s/prod/api/v1/namespaces/default/pods/web-1', as })).status).toBe(200);
    const del = await rawRequest(k.stack, { method: 'DELETE', path: '/k8s/prod/api/v1/namespaces/default/pods/web-1', as });
    const apply = await rawRequest(k.stack, {
      method: 'PATCH',
      path: '/k8s/prod/api/v1/namespaces/default/pods/web-1?fieldManager=kubectl&force=true',
      as,
      headers: { 'content-type': 'application/apply-patch+yaml' },
      body: PRIVILEGED,
    });
    const forwarded = (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 }))
      .filter((e) => e.type === 'kube.request' && e.fields.cluster === 'prod' && e.fields.name === 'web-1' && (e.fields.verb === 'patch' || e.fields.verb === 'delete'))
      .map((e) => ({ verb: e.fields.verb, allowed: e.fields.reason === undefined, status: e.fields.status }));
    // Both reach the cluster as prod-admins: delete the approved pod, then create a privileged one in its name.
    expect({ delete: del.status, apply: apply.status, forwarded }).toMatchObject({ delete: 403, apply: 403 });
  });
});
