import { describe, expect, it } from 'vitest';
import { parseKubeRequest } from './kube-request-info.ts';
import { canonicalKubeTarget } from './kube-path.ts';

const parse = (method: string, url: string) => {
  const canonical = canonicalKubeTarget(`/k8s/x${url}`);
  if (!canonical.ok) throw new Error(canonical.message);
  const parsed = parseKubeRequest(method, canonical.target.segments, canonical.target.query);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.info;
};

describe('parseKubeRequest', () => {
  it.each([
    ['GET', '/api/v1/namespaces/default/pods', { verb: 'list', resource: 'pods', namespace: 'default', name: '' }],
    ['GET', '/api/v1/namespaces/default/pods/web-1', { verb: 'get', resource: 'pods', namespace: 'default', name: 'web-1' }],
    ['GET', '/api/v1/namespaces/default/pods?watch=true', { verb: 'watch', resource: 'pods' }],
    ['GET', '/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dweb-1', { verb: 'watch', name: 'web-1' }],
    ['GET', '/api/v1/watch/namespaces/default/pods', { verb: 'watch', resource: 'pods', namespace: 'default' }],
    ['GET', '/api/v1/pods', { verb: 'list', resource: 'pods', namespace: '' }],
    ['POST', '/api/v1/namespaces/default/configmaps', { verb: 'create', resource: 'configmaps' }],
    ['PUT', '/api/v1/namespaces/default/configmaps/c', { verb: 'update', name: 'c' }],
    ['PATCH', '/apis/apps/v1/namespaces/prod/deployments/api', { verb: 'patch', apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', namespace: 'prod', name: 'api' }],
    ['DELETE', '/api/v1/namespaces/default/pods/p', { verb: 'delete', name: 'p' }],
    ['DELETE', '/api/v1/namespaces/default/pods', { verb: 'deletecollection' }],
    ['GET', '/api/v1/namespaces/default/pods/p/log?follow=true', { verb: 'get', resource: 'pods', subresource: 'log' }],
    ['GET', '/api/v1/namespaces/default/pods/p/exec?command=sh', { verb: 'exec', resource: 'pods', subresource: 'exec', name: 'p' }],
    ['POST', '/api/v1/namespaces/default/pods/p/exec?command=sh', { verb: 'exec' }],
    ['GET', '/api/v1/namespaces/default/pods/p/attach', { verb: 'attach' }],
    ['GET', '/api/v1/namespaces/default/pods/p/portforward', { verb: 'portforward' }],
    ['GET', '/api/v1/namespaces/kube-system', { verb: 'get', resource: 'namespaces', name: 'kube-system', namespace: 'kube-system' }],
    ['PUT', '/api/v1/namespaces/old/finalize', { verb: 'update', resource: 'namespaces', name: 'old', subresource: 'finalize' }],
    ['GET', '/api/v1/namespaces', { verb: 'list', resource: 'namespaces', namespace: '' }],
    ['GET', '/api/v1/nodes/n1', { verb: 'get', resource: 'nodes', name: 'n1', namespace: '' }],
  ] as const)('%s %s', (method, url, expected) => {
    expect(parse(method, url)).toMatchObject({ isResourceRequest: true, ...expected });
  });

  it.each(['/version', '/api', '/api/v1', '/apis', '/apis/apps', '/openapi/v3', '/healthz'])('%s is not a resource request', (path) => {
    expect(parse('GET', path)).toMatchObject({ isResourceRequest: false, verb: 'get' });
  });
});

describe('parseKubeRequest refuses what it would have to guess at', () => {
  const refusal = (method: string, url: string) => {
    const canonical = canonicalKubeTarget(`/k8s/x${url}`);
    if (!canonical.ok) throw new Error(canonical.message);
    const parsed = parseKubeRequest(method, canonical.target.segments, canonical.target.query);
    expect(parsed.ok, url).toBe(false);
    return parsed.ok ? '' : parsed.message;
  };
  it.each([
    ['GET', '/api/v1/proxy/namespaces/default/pods/web-1', '/proxy/'],
    ['GET', '/api/v1/watch', 'names what to watch'],
    ['GET', '/api/v1/namespaces/default/pods/web-1/exec/more', 'after the subresource'],
    ['OPTIONS', '/api/v1/pods', 'OPTIONS'],
    ['get', '/api/v1/pods', 'get'],
    ['GET', '/api/v1/pods?fieldSelector=metadata.name%3Dweb%5C,x', 'plain form'],
    ['GET', '/api/v1/pods?fieldSelector=status.phase%3DRunning,metadata.name%3Dweb-1', 'plain form'],
  ])('%s %s', (method, url, why) => {
    expect(refusal(method, url)).toContain(why);
  });

  it('reads watch only as the canonical query says, and a name only from a named get', () => {
    expect(parse('GET', '/api/v1/namespaces/d/pods/p?watch=true')).toMatchObject({ verb: 'get', name: 'p' });
    expect(parse('GET', '/api/v1/namespaces/d/pods?watch=false')).toMatchObject({ verb: 'list' });
    expect(parse('DELETE', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name%3Dp')).toMatchObject({ verb: 'deletecollection', name: '' });
    expect(parse('GET', '/api/v1/namespaces/d/pods/p/proxy/some/path')).toMatchObject({ verb: 'proxy', subresource: 'proxy', name: 'p' });
  });
});

describe('the kubelet through nodes/proxy', () => {
  it.each(['run', 'exec', 'attach', 'portForward', 'cri', 'Run', 'EXEC'])('refuses nodes/<name>/proxy/%s, a session no one would record', (endpoint) => {
    const canonical = canonicalKubeTarget(`/k8s/x/api/v1/nodes/n1/proxy/${endpoint}/default/web-1/app?cmd=sh`);
    if (!canonical.ok) throw new Error(canonical.message);
    const parsed = parseKubeRequest('POST', canonical.target.segments, canonical.target.query);
    expect(parsed.ok).toBe(false);
  });
  it('lets the rest of the kubelet proxy be judged as the proxy verb', () => {
    expect(parse('GET', '/api/v1/nodes/n1/proxy/metrics')).toMatchObject({ verb: 'proxy', resource: 'nodes', name: 'n1' });
  });
});
