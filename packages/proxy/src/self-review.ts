// `kubectl auth can-i` and `kubectl auth can-i --list`, answered by the proxy
// from ztsh's own roles. They POST a SelfSubjectAccessReview or a
// SelfSubjectRulesReview; forwarding them would report the cluster's RBAC for
// the impersonated principals, which is not what ztsh decides, so they are
// never forwarded. An access review gets the decision the proxy would make
// for that request (the one role evaluator, as authorizeKube uses it); a
// rules review lists the allow rules that apply in the namespace, less what
// deny rules take away, and says `incomplete` when deny rules make the list
// inexact. A self review is about the caller only: whatever else the body
// names (user, groups, uid, extra) is ignored, and nothing of it is echoed
// but the attributes that were judged.
import { z } from 'zod';
import {
  evaluateKubeAccess,
  globMatch,
  kubeStatus,
  rolesReaching,
  type ClusterInfo,
  type EvaluatedRole,
  type ImpersonationRequest,
  type KubeAsk,
  type KubeIdentity,
  type RoleResourceRule,
} from '@ztsh/protocol';
import { nonResourceAllowed } from './kube-nonresource.ts';
import { reviewFromProtobuf } from './review-protobuf.ts';
import { ACTION_SUBRESOURCES, type KubeRequestInfo } from './kube-request-info.ts';

const GROUP = 'authorization.k8s.io';
const VERSION = 'v1';
const KINDS: Readonly<Record<string, 'SelfSubjectAccessReview' | 'SelfSubjectRulesReview'>> = {
  selfsubjectaccessreviews: 'SelfSubjectAccessReview',
  selfsubjectrulesreviews: 'SelfSubjectRulesReview',
};

/** The largest review body read: kubectl's are a few hundred bytes. */
export const SELF_REVIEW_BODY_LIMIT = 64 * 1024;

/**
 * True for every request on the self-review resources, whatever its verb,
 * version, namespace or name: all of them are answered here (most with an
 * error), none goes to the cluster.
 */
export function isSelfReview(info: Pick<KubeRequestInfo, 'isResourceRequest' | 'apiGroup' | 'resource'>): boolean {
  return info.isResourceRequest && info.apiGroup === GROUP && Object.hasOwn(KINDS, info.resource);
}

export interface SelfReviewInput {
  identity: KubeIdentity;
  /** The caller's current roles, as for authorizeKube. */
  roles: readonly EvaluatedRole[];
  cluster: ClusterInfo;
  info: KubeRequestInfo;
  /** The impersonation the request itself was let through with (kubectl auth can-i --as); default none. */
  asked?: ImpersonationRequest;
}

export interface SelfReviewAnswer {
  status: number;
  body: Record<string, unknown>;
}

function failure(code: number, reason: string, message: string): SelfReviewAnswer {
  return { status: code, body: { ...kubeStatus(code, message), reason } };
}

const Text = z.string().max(1024);
const Header = z.object({
  apiVersion: z.literal(`${GROUP}/${VERSION}`).optional(),
  kind: z.string().optional(),
  spec: z.unknown().optional(),
});
const ResourceAttributes = z.object({
  namespace: Text.optional(),
  verb: Text.optional(),
  group: Text.optional(),
  version: Text.optional(),
  resource: Text.optional(),
  subresource: Text.optional(),
  name: Text.optional(),
});
const NonResourceAttributes = z.object({ path: Text.optional(), verb: Text.optional() });
const AccessSpec = z.object({ resourceAttributes: ResourceAttributes.optional(), nonResourceAttributes: NonResourceAttributes.optional() });
const RulesSpec = z.object({ namespace: Text.optional() });

/** The review's answer for a body already read (at most SELF_REVIEW_BODY_LIMIT bytes) and parsed as JSON. */
export function answerSelfReview(input: SelfReviewInput, body: unknown): SelfReviewAnswer {
  const { info } = input;
  const kind = KINDS[info.resource];
  if (!isSelfReview(info) || !kind || info.apiVersion !== VERSION || info.namespace || info.name || info.subresource) {
    return failure(404, 'NotFound', 'the server could not find the requested resource');
  }
  if (info.verb !== 'create') return failure(405, 'MethodNotAllowed', `${info.verb} is not supported on ${info.resource}: only create`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return failure(400, 'BadRequest', `the body must be a ${kind} object`);
  const header = Header.safeParse(body);
  if (!header.success || (header.data.kind !== undefined && header.data.kind !== kind)) {
    return failure(400, 'BadRequest', `the body must be a ${kind} of ${GROUP}/${VERSION}`);
  }
  return kind === 'SelfSubjectAccessReview' ? accessReview(input, header.data.spec) : rulesReview(input, header.data.spec);
}

/** The same, from the raw body bytes (JSON, or kubectl 1.33's protobuf): refuses a body over the limit, or one that is neither. */
export function answerSelfReviewBytes(input: SelfReviewInput, bytes: Uint8Array): SelfReviewAnswer {
  if (bytes.byteLength > SELF_REVIEW_BODY_LIMIT) return failure(413, 'RequestEntityTooLarge', `the review body is larger than ${SELF_REVIEW_BODY_LIMIT} bytes`);
  const fromProtobuf = reviewFromProtobuf(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (fromProtobuf !== undefined) return answerSelfReview(input, fromProtobuf);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return failure(400, 'BadRequest', 'the review body is neither JSON nor a Kubernetes protobuf review');
  }
  return answerSelfReview(input, body);
}

function accessReview(input: SelfReviewInput, rawSpec: unknown): SelfReviewAnswer {
  const parsed = AccessSpec.safeParse(rawSpec ?? {});
  if (!parsed.success) return failure(422, 'Invalid', 'spec: resourceAttributes and nonResourceAttributes must be objects of strings');
  const { resourceAttributes: ra, nonResourceAttributes: nra } = parsed.data;
  if ((ra === undefined) === (nra === undefined)) {
    return failure(422, 'Invalid', 'spec: exactly one of resourceAttributes and nonResourceAttributes must be given');
  }
  const asked = input.asked ?? { groups: [] };
  let spec: Record<string, unknown>;
  let allowed: boolean;
  let reason: string;
  if (ra) {
    const subresource = ra.subresource ?? '';
    // As the proxy reads requests: exec, attach, portforward and proxy are verbs of their own.
    const verb = ACTION_SUBRESOURCES.has(subresource) ? subresource : (ra.verb ?? '');
    const ask: KubeAsk = { isResourceRequest: true, verb, apiGroup: ra.group ?? '', resource: ra.resource ?? '', namespace: ra.namespace ?? '', name: ra.name ?? '' };
    const decision = evaluateKubeAccess(input.identity, input.roles, input.cluster, ask, asked);
    spec = { resourceAttributes: pick(ra, ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name']) };
    allowed = decision.allowed;
    reason = decision.allowed ? 'allowed by ztsh roles' : decision.reason;
  } else {
    const path = nra!.path ?? '';
    const verb = nra!.verb ?? '';
    spec = { nonResourceAttributes: pick(nra!, ['path', 'verb']) };
    const segments = simplePathSegments(path);
    if (verb !== 'get' || segments === undefined || !nonResourceAllowed('GET', segments)) {
      allowed = false;
      reason = `ztsh allows only get on /version, discovery, /openapi and health checks outside the API's resources`;
    } else {
      const decision = evaluateKubeAccess(input.identity, input.roles, input.cluster, { isResourceRequest: false, verb, apiGroup: '', resource: '', namespace: '', name: '' }, asked);
      allowed = decision.allowed;
      reason = decision.allowed ? 'allowed by ztsh roles' : decision.reason;
    }
  }
  return {
    status: 201,
    body: { kind: 'SelfSubjectAccessReview', apiVersion: `${GROUP}/${VERSION}`, metadata: { creationTimestamp: null }, spec, status: { allowed, reason } },
  };
}

/** A plain absolute path's segments: no wildcards, escapes, dot or empty segments, control characters. */
function simplePathSegments(path: string): string[] | undefined {
  if (!path.startsWith('/') || path.length > 256) return undefined;
  const segments = path.slice(1).split('/');
  const plain = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
  if (segments.some((s) => !plain.test(s) || s === '.' || s === '..')) return undefined;
  return segments;
}

function pick<T extends Record<string, string | undefined>>(from: T, keys: (keyof T & string)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (typeof from[k] === 'string' && from[k] !== '') out[k] = from[k];
  return out;
}

interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}

/** What ztsh lets through outside the resources (kube-nonresource.ts), in RBAC's words. */
const NON_RESOURCE_RULES = [
  {
    verbs: ['get'],
    nonResourceURLs: ['/version', '/api', '/api/*', '/apis', '/apis/*', '/openapi/v2', '/openapi/v3', '/openapi/v3/*', '/healthz', '/healthz/*', '/livez', '/livez/*', '/readyz', '/readyz/*'],
  },
];

function rulesReview(input: SelfReviewInput, rawSpec: unknown): SelfReviewAnswer {
  const parsed = RulesSpec.safeParse(rawSpec ?? {});
  if (!parsed.success) return failure(422, 'Invalid', 'spec.namespace must be a string');
  const namespace = parsed.data.namespace ?? '';
  const answer = (status: Record<string, unknown>): SelfReviewAnswer => ({
    status: 201,
    body: { kind: 'SelfSubjectRulesReview', apiVersion: `${GROUP}/${VERSION}`, metadata: { creationTimestamp: null }, spec: namespace ? { namespace } : {}, status },
  });
  const reach = rolesReaching(input.identity.user, input.roles, input.cluster);
  if (!reach.ok) return answer({ resourceRules: [], nonResourceRules: [], incomplete: false });
  const listed = listRules(input.roles, reach.reaching, namespace);
  return answer({ resourceRules: listed.rules, nonResourceRules: NON_RESOURCE_RULES, incomplete: listed.incomplete });
}

/** Does a namespace pattern of a rule cover the namespace asked ('' = cluster scope: only "*" does)? */
function inNamespace(pattern: string, namespace: string): boolean {
  return namespace === '' ? pattern === '*' : globMatch(pattern, namespace);
}

const anyOf = (a: string, b: string) => a === '*' || b === '*' || a === b;
const groupOf = (rule: RoleResourceRule) => rule.api_group ?? '*';

/** Whether a deny rule takes `verb` away from the whole of an allow rule, or only from part of it. */
function denyEffect(deny: RoleResourceRule, allow: RoleResourceRule, verb: string, namespace: string): 'all' | 'part' | 'none' {
  const verbAll = deny.verbs.includes('*') || (verb !== '*' && deny.verbs.includes(verb));
  const verbSome = verbAll || verb === '*';
  const kindSome = anyOf(deny.kind, allow.kind);
  const groupSome = anyOf(groupOf(deny), groupOf(allow));
  const nameSome = deny.name.includes('*') || allow.name.includes('*') || deny.name === allow.name;
  // In cluster scope a namespaced deny still covers lists across namespaces.
  const nsSome = namespace === '' || globMatch(deny.namespace, namespace);
  if (!(verbSome && kindSome && groupSome && nameSome && nsSome)) return 'none';
  const all =
    verbAll &&
    (deny.kind === '*' || deny.kind === allow.kind) &&
    (groupOf(deny) === '*' || groupOf(deny) === groupOf(allow)) &&
    globMatch(deny.name, allow.name) &&
    inNamespace(deny.namespace, namespace);
  return all ? 'all' : 'part';
}

function listRules(roles: readonly EvaluatedRole[], reaching: readonly EvaluatedRole[], namespace: string): { rules: ResourceRule[]; incomplete: boolean } {
  const denies = roles.flatMap((r) => r.spec.deny.kubernetes_resources ?? []);
  const rules: ResourceRule[] = [];
  let incomplete = false;
  for (const allow of reaching.flatMap((r) => r.spec.allow.kubernetes_resources ?? [])) {
    if (!inNamespace(allow.namespace, namespace)) continue;
    const verbs = allow.verbs.filter((verb) => {
      const effects = denies.map((d) => denyEffect(d, allow, verb, namespace));
      if (effects.includes('all')) return false;
      if (effects.includes('part')) incomplete = true;
      return true;
    });
    if (verbs.length === 0) continue;
    // RBAC resource names are exact: a name pattern is listed as written, and the list is inexact.
    if (allow.name !== '*' && allow.name.includes('*')) incomplete = true;
    rules.push(...kubeRules(allow, verbs));
  }
  return { rules, incomplete };
}

/** A ztsh rule in RBAC's words: exec, attach, portforward and proxy are subresources there. */
function kubeRules(rule: RoleResourceRule, verbs: readonly string[]): ResourceRule[] {
  const base = { apiGroups: [groupOf(rule)], ...(rule.name === '*' ? {} : { resourceNames: [rule.name] }) };
  if (verbs.includes('*')) return [{ verbs: ['*'], ...base, resources: rule.kind === '*' ? ['*'] : [rule.kind, `${rule.kind}/*`] }];
  const out: ResourceRule[] = [];
  const plain = verbs.filter((v) => !ACTION_SUBRESOURCES.has(v));
  if (plain.length > 0) out.push({ verbs: [...plain], ...base, resources: [rule.kind] });
  for (const action of verbs.filter((v) => ACTION_SUBRESOURCES.has(v))) {
    out.push({ verbs: ['create', 'get'], ...base, resources: [`${rule.kind}/${action}`] });
  }
  return out;
}
