// Just enough OpenAPI for kubectl create/apply. kubectl ≥ 1.27 validates with
// `--validate=strict` by asking whether the server takes the `fieldValidation` query parameter:
// it reads /openapi/v3, then the group-version document, and looks for a PATCH operation tagged
// with the object's group/version/kind that lists that parameter. If it finds one it leaves the
// validation to the server; if the documents are missing it fails ("error validating data").
// The PATCH operations carry no requestBody, so client-side apply computes its strategic merge
// patch from kubectl's built-in types (its fallback) instead of from schemas we do not serve.
// /openapi/v2 stays 404: kubectl only falls back to it when v3 is unusable.
import { createHash } from 'node:crypto';
import { RESOURCES, groupVersions, type ResourceInfo } from './resources.ts';

const FIELD_VALIDATION = {
  name: 'fieldValidation',
  in: 'query',
  description: 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.',
  schema: { type: 'string', uniqueItems: true },
};

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function document(group: string, version: string): object {
  const paths: Record<string, object> = {};
  for (const r of RESOURCES.filter((x) => x.group === group && x.version === version)) {
    paths[itemPath(r)] = {
      patch: {
        description: `partially update the specified ${r.kind}`,
        operationId: `patch${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
        parameters: [FIELD_VALIDATION],
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.33.1' },
    paths,
    components: { schemas: {} },
  };
}

function itemPath(r: ResourceInfo): string {
  const base = `/${gvPath(r.group, r.version)}`;
  return r.namespaced ? `${base}/namespaces/{namespace}/${r.resource}/{name}` : `${base}/${r.resource}/{name}`;
}

/** The answer body for an /openapi/... path, or undefined for 404. */
export function openapi(path: string): object | undefined {
  const docs = new Map<string, object>();
  for (const [group, versions] of groupVersions()) {
    for (const version of versions) docs.set(gvPath(group, version), document(group, version));
  }
  if (path === '/openapi/v3') {
    const paths: Record<string, object> = {};
    for (const [gv, doc] of docs) {
      const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase().slice(0, 128);
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
    }
    return { paths };
  }
  if (path.startsWith('/openapi/v3/')) return docs.get(path.slice('/openapi/v3/'.length));
  return undefined;
}
