// Decides whether a kube request may go through, and as which Kubernetes user
// and groups the agent impersonates: the one role evaluator of @ztsh/protocol
// (the one login uses, templates included) applied to the canonical request.
// Deny rules win over allow rules. `kubectl --as` / `--as-group` may name only
// principals a role lists, or the user the request would be made as anyway.
import { evaluateKubeAccess, type ClusterInfo, type EvaluatedRole, type ImpersonationRequest, type KubeDecision, type KubeIdentity } from '@ztsh/protocol';
import type { KubeRequestInfo } from './kube-request-info.ts';
import { isSelfReview } from './self-review.ts';
import { isWhoAmI } from './whoami.ts';

export { globMatch, labelsMatch, type ClusterInfo, type ImpersonationRequest, type KubeDecision } from '@ztsh/protocol';

export function authorizeKube(identity: KubeIdentity, roles: readonly EvaluatedRole[], cluster: ClusterInfo, info: KubeRequestInfo, asked: ImpersonationRequest): KubeDecision {
  // Asking what one may do is open to everyone who reaches the cluster, as in
  // Kubernetes. The proxy answers these itself from these same roles
  // (self-review.ts): they are never forwarded.
  const ask = isSelfReview(info) || isWhoAmI(info) ? { ...info, isResourceRequest: false } : info;
  return evaluateKubeAccess(identity, roles, cluster, ask, asked);
}
