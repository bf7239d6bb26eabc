// The double's tiny stand-in for RBAC. Only impersonated requests are checked (the bearer token
// itself is the agent's service account, which may do anything); with no table, all is allowed.
// A rule matches a subject by user name or by any shared group; `*` is a wildcard everywhere.
// Resources name subresources the RBAC way: "pods/exec", "pods/log", "pods/portforward".
import type { ResourceRequest } from './request-info.ts';

export interface RbacRule {
  user?: string;
  groups?: string[];
  allow: { verbs: string[]; resources: string[]; namespaces?: string[] };
}

export interface Subject {
  user: string;
  groups: string[];
}

function matches(list: string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

export function isAllowed(rules: RbacRule[] | undefined, who: Subject, req: ResourceRequest): boolean {
  if (!rules) return true;
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const qualified = req.group ? `${resource}.${req.group}` : resource;
  return rules.some((rule) => {
    const bySubject =
      (rule.user !== undefined && (rule.user === who.user || rule.user === '*')) ||
      (rule.groups ?? []).some((g) => who.groups.includes(g));
    if (!bySubject) return false;
    const { verbs, resources, namespaces } = rule.allow;
    if (!matches(verbs, req.verb)) return false;
    if (!matches(resources, resource) && !matches(resources, qualified)) return false;
    if (namespaces && req.namespace !== undefined && !matches(namespaces, req.namespace)) return false;
    // A namespace-limited rule grants nothing at the cluster scope (like a RoleBinding).
    if (namespaces && req.namespace === undefined && !namespaces.includes('*')) return false;
    return true;
  });
}
