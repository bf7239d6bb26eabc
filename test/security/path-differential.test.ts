// The differential property of item 1: for request targets generated with
// percent-encodings, dot segments, doubled slashes, case changes and odd
// subresources, the request the proxy decided on (verb, group, resource,
// subresource, namespace, name) is the one the apiserver double's own,
// independent parser (Go's decoding, the apiserver's RequestInfo) derives
// from what the proxy forwarded, or the proxy refused and the cluster
// received nothing. bob's role allows everything, so only the proxy's
// reading of the path can refuse.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canonicalKubeTarget } from '../../packages/proxy/src/kube-path.ts';
import { parseKubeRequest, type KubeRequestInfo } from '../../packages/proxy/src/kube-request-info.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { credentialsOf, rawRequest, type Credentials } from './helpers/raw-client.ts';

let k: KubeEnv;
let bob: Credentials;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
  bob = await credentialsOf(k.stack, 'bob');
});
afterAll(() => k?.close());

const TOKENS = ['api', 'apis', 'v1', 'apps', 'namespaces', 'default', 'kube-system', 'pods', 'secrets', 'configmaps', 'deployments', 'web-1', 'log', 'status', 'finalize', 'scale', 'watch', 'proxy', 'exec', 'version', 'openapi', 'v3', 'x'];
const ODD = ['..', '.', '', '%2e%2e', '%2E', 'a%2Fb', 'a%5cb', '%00', '%zz', '%', 'se%63rets', '%73ecrets', 'POds', 'API', 'na%6despaces', 'web%2D1', 'a;b', 'a%3Bb', 'caf%C3%A9', '%C3', '%FF'];

/** One segment: a known token, maybe case-changed or partly percent-encoded, or an odd one. */
const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TOKENS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...TOKENS), fc.array(fc.boolean(), { minLength: 1, maxLength: 12 })).map(([t, enc]) => [...t].map((ch, i) => (enc[i % enc.length] ? '%' + ch.charCodeAt(0).toString(16).padStart(2, '0')[enc[(i + 1) % enc.length] ? 'toUpperCase' : 'toLowerCase']() : ch)).join('')) },
  { weight: 1, arbitrary: fc.constantFrom(...TOKENS).map((t) => t.toUpperCase()) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD) },
);

/** Shapes close to real API paths, so that many requests are valid and compared, not only refused. */
const pathShape = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 9 }),
  fc.tuple(fc.constantFrom(['api', 'v1'], ['apis', 'apps', 'v1']), fc.array(segment, { minLength: 1, maxLength: 6 })).map(([p, rest]) => [...p, ...rest]),
  fc.tuple(fc.constantFrom(['api', 'v1', 'namespaces'], ['apis', 'apps', 'v1', 'namespaces'], ['api', 'v1', 'watch', 'namespaces']), segment, fc.array(segment, { maxLength: 4 })).map(([p, ns, rest]) => [...p, ns, ...rest]),
);

const QUERY = ['', '?watch=true', '?watch=1', '?watch=0', '?watch=false', '?watch=TRUE', '?watch=yes', '?watch=', '?watch=true&watch=false', '?fieldSelector=metadata.name%3Dweb-1', '?fieldSelector=metadata.name%3D%3Dweb-1&watch=true', '?fieldSelector=metadata.name%3Dweb%5C,x', '?watch=true;x', '?fieldSelector=metadata.name%3Db,metadata.name%3Da', '?fieldSelector=status.phase%3DRunning', '?fieldSelector=metadata.name!%3Dweb-1', '?fieldSelector=metadata.name%3D', '?labelSelector=a%3Db', '?x=%zz', '?a=1&&b=2', '?command=sh+-c'];

const request = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'),
  segments: pathShape,
  query: fc.constantFrom(...QUERY),
  trailingSlash: fc.boolean().map((b) => b && Math.random() < 0.1),
});

type Decision = Pick<KubeRequestInfo, 'verb' | 'apiGroup' | 'resource' | 'subresource' | 'namespace' | 'name'> | { path: string };

function proxyDecision(method: string, url: string): Decision | undefined {
  const canonical = canonicalKubeTarget(url);
  if (!canonical.ok) return undefined;
  const parsed = parseKubeRequest(method, canonical.target.segments, canonical.target.query);
  if (!parsed.ok) return undefined;
  const i = parsed.info;
  if (!i.isResourceRequest) return { path: i.path };
  return { verb: i.verb, apiGroup: i.apiGroup, resource: i.resource, subresource: i.subresource, namespace: i.namespace, name: i.name };
}

function doubleDecision(seen: (typeof k.kube.requests)[number]): Decision | undefined {
  const info = seen.info;
  if (!info) return undefined;
  if (info.kind === 'nonresource') return { path: info.path };
  const verb = ['exec', 'attach', 'portforward', 'proxy'].includes(info.subresource ?? '') ? info.subresource! : info.verb;
  return { verb, apiGroup: info.group, resource: info.resource, subresource: info.subresource ?? '', namespace: info.namespace ?? '', name: info.name ?? '' };
}

it('what the proxy decided on is what the apiserver double reads from the forwarded request, or nothing is forwarded', async () => {
  let compared = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(request, async ({ method, segments, query, trailingSlash }) => {
      const url = `/k8s/sandbox/${segments.join('/')}${trailingSlash ? '/' : ''}${query}`;
      const before = k.kube.requests.length;
      const answer = await rawRequest(k.stack, { method, path: url, as: bob, headersOnly: true, ...(['POST', 'PUT', 'PATCH'].includes(method) ? { body: '{}', headers: { 'Content-Type': 'application/json' } } : {}) });
      const received = k.kube.requests.slice(before);
      const decided = proxyDecision(method, url);
      if (received.length === 0) {
        // Refused by the proxy: a Status, never a pass.
        expect(answer.status, url).toBeGreaterThanOrEqual(400);
        refused++;
        return;
      }
      expect(received, url).toHaveLength(1);
      expect(decided, `${method} ${url} was forwarded though the proxy could not read it`).toBeDefined();
      expect(doubleDecision(received[0]!), `${method} ${url} → ${received[0]!.path}`).toEqual(decided);
      compared++;
    }),
    { numRuns: 400, seed: Number(process.env.ZTSH_FC_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
  );
  // The generator must exercise both sides, or the property says little.
  expect(compared).toBeGreaterThan(50);
  expect(refused).toBeGreaterThan(50);
}, 120_000);
