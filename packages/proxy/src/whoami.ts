// `kubectl auth whoami`: a SelfSubjectReview, answered by the proxy with
// the Kubernetes user and groups ztsh impersonates for the caller, which is
// who the cluster sees. It is open to everyone who reaches the cluster, as
// in Kubernetes, and never forwarded: the body asks nothing, and the
// answer is the proxy's own decision.
import type { KubeRequestInfo } from './kube-request-info.ts';

const GROUP = 'authentication.k8s.io';

export function isWhoAmI(info: Pick<KubeRequestInfo, 'isResourceRequest' | 'apiGroup' | 'resource'>): boolean {
  return info.isResourceRequest && info.apiGroup === GROUP && info.resource === 'selfsubjectreviews';
}

export interface WhoAmIAnswer {
  status: number;
  body: unknown;
}

/** The review for this request: `user` and `groups` are what the agent impersonates, `ztshUser` the ztsh identity. */
export function answerWhoAmI(info: KubeRequestInfo, user: string, groups: readonly string[], ztshUser: string): WhoAmIAnswer {
  if (info.verb !== 'create' || info.namespace || info.name || info.subresource || !['v1', 'v1beta1', 'v1alpha1'].includes(info.apiVersion)) {
    const bad = info.verb !== 'create';
    const code = bad ? 405 : 404;
    return {
      status: code,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason: bad ? 'MethodNotAllowed' : 'NotFound', message: bad ? `${info.verb} is not supported on selfsubjectreviews: only create` : 'the server could not find the requested resource' },
    };
  }
  return {
    status: 201,
    body: {
      kind: 'SelfSubjectReview',
      apiVersion: `${GROUP}/${info.apiVersion}`,
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: user, groups: [...groups], extra: { 'ztsh.dev/user': [ztshUser] } } },
    },
  };
}
