// Discovery endpoints: /version, legacy /api, /apis, /api/v1, /apis/<g>/<v>, and the aggregated
// form (apidiscovery.k8s.io v2 / v2beta1) that kubectl ≥ 1.26 asks for first through Accept.
// The aggregated answer MUST carry the matching Content-Type, or client-go reads it as legacy.
import { wantsAs } from './accept.ts';
import { RESOURCES, groupVersions, verbsOf, type ResourceInfo } from './resources.ts';

export const SERVER_VERSION = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.1',
  gitCommit: '8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828',
  gitTreeState: 'clean',
  buildDate: '2025-05-15T08:19:08Z',
  goVersion: 'go1.24.2',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export interface DiscoveryAnswer {
  body: unknown;
  contentType: string;
}

const AGGREGATED_VERSIONS = ['v2', 'v2beta1'];

/** Answers a discovery path, or undefined when `path` is not one. */
export function discovery(path: string, accept: string | undefined, serverAddress: string): DiscoveryAnswer | undefined {
  const json = (body: unknown): DiscoveryAnswer => ({ body, contentType: 'application/json' });
  if (path === '/version') return json(SERVER_VERSION);

  if (path === '/api' || path === '/apis') {
    const aggregated = wantsAs(accept, 'APIGroupDiscoveryList', 'apidiscovery.k8s.io', AGGREGATED_VERSIONS);
    const legacy = path === '/api';
    if (aggregated) {
      return {
        body: aggregatedList(legacy, aggregated),
        contentType: `application/json;g=apidiscovery.k8s.io;v=${aggregated};as=APIGroupDiscoveryList`,
      };
    }
    if (legacy) {
      return json({
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
      });
    }
    return json({ kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups() });
  }

  const m = /^\/(?:api\/(v1)|apis\/([^/]+)(?:\/([^/]+))?)$/.exec(path);
  if (!m) return undefined;
  if (m[1]) return json(resourceList('', m[1]));
  const group = m[2] ?? '';
  const versions = groupVersions().get(group);
  if (!versions) return undefined;
  if (!m[3]) return json({ kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) });
  if (!versions.includes(m[3])) return undefined;
  return json(resourceList(group, m[3]));
}

function apiGroups(): object[] {
  return [...groupVersions()].filter(([g]) => g !== '').map(([g, versions]) => apiGroup(g, versions));
}

function apiGroup(group: string, versions: string[]): object {
  const gv = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: gv, preferredVersion: gv[0] };
}

function resourceList(group: string, version: string): object {
  const resources: object[] = [];
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: verbsOf(r),
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) {
      resources.push({
        name: `${r.resource}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.group ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function aggregatedList(legacy: boolean, apiVersion: string): object {
  const items = [...groupVersions()]
    .filter(([g]) => (legacy ? g === '' : g !== ''))
    .map(([group, versions]) => ({
      metadata: legacy ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
      versions: versions.map((version) => ({
        version,
        resources: RESOURCES.filter((r) => r.group === group && r.version === version).map(aggregatedResource),
        freshness: 'Current',
      })),
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${apiVersion}`, metadata: {}, items };
}

function aggregatedResource(r: ResourceInfo): object {
  return {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: verbsOf(r),
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    ...(r.subresources.length
      ? {
          subresources: r.subresources.map((s) => ({
            subresource: s.name,
            responseKind: { group: s.group ?? r.group, version: s.version ?? r.version, kind: s.kind },
            verbs: s.verbs,
          })),
        }
      : {}),
  };
}
