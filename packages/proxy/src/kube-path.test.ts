import { describe, expect, it } from 'vitest';
import { canonicalKubeTarget, encodeSegment, percentDecode } from './kube-path.ts';

const ok = (url: string) => {
  const r = canonicalKubeTarget(url);
  if (!r.ok) throw new Error(r.message);
  return r.target;
};
const refused = (url: string) => {
  const r = canonicalKubeTarget(url);
  expect(r.ok, url).toBe(false);
  return r as Extract<typeof r, { ok: false }>;
};

describe('canonicalKubeTarget', () => {
  it('decodes each segment once and forwards it re-encoded', () => {
    const t = ok('/k8s/sandbox/api/v1/namespaces/default/%73ecrets');
    expect(t.cluster).toBe('sandbox');
    expect(t.segments).toEqual(['api', 'v1', 'namespaces', 'default', 'secrets']);
    expect(t.path).toBe('/api/v1/namespaces/default/secrets');
    expect(t.upstreamPath).toBe('/api/v1/namespaces/default/secrets');
  });

  it('keeps what a segment may carry, encodes the rest', () => {
    expect(ok('/k8s/c/api/v1/namespaces/ns/services/https:web:8443/proxy').upstreamPath).toBe('/api/v1/namespaces/ns/services/https:web:8443/proxy');
    expect(ok('/k8s/c/api/v1/namespaces/ns/configmaps/a%20b%C3%A9').segments.at(-1)).toBe('a bé');
    expect(ok('/k8s/c/api/v1/namespaces/ns/configmaps/a%20b%C3%A9').upstreamPath).toBe('/api/v1/namespaces/ns/configmaps/a%20b%C3%A9');
  });

  it.each([
    ['/k8s/sandbox/api/v1/namespaces/dev%2Fsecrets/db-password', 'encoded "/"'],
    ['/k8s/sandbox/api/v1/namespaces/dev%2fsecrets/db-password', 'encoded "/"'],
    ['/k8s/sandbox/api/v1/namespaces/dev%5Csecrets', 'encoded "/"'],
    ['/k8s/sandbox/x/../api/v1/namespaces/default/secrets', '".."'],
    ['/k8s/sandbox/api/v1/namespaces/default/pods/../../../namespaces/kube-public', '".."'],
    ['/k8s/sandbox/api/v1/./namespaces', '".."'],
    ['/k8s/sandbox/api/v1/%2e%2e/namespaces', '".."'],
    ['/k8s/sandbox/api/v1/%2E/namespaces', '".."'],
    ['/k8s/sandbox/api//v1/namespaces', 'empty'],
    ['/k8s/sandbox/api/v1/namespaces/', 'empty'],
    ['/k8s/sandbox/api/v1/namespaces/%00', 'control'],
    ['/k8s/sandbox/api/v1/namespaces/%1b', 'control'],
    ['/k8s/sandbox/api/v1/namespaces/%C2%9B', 'control'],
    ['/k8s/sandbox/api/v1/namespaces/%zz', 'bad percent'],
    ['/k8s/sandbox/api/v1/namespaces/%4', 'bad percent'],
    ['/k8s/sandbox/api/v1/namespaces/%FF', 'bad percent'],
    ['/k8s/sandbox/api/v1/name spaces', 'space'],
    ['/k8s/sandbox/api/v1/namespaces\u0000', 'control'],
    ['/k8s/sandbox/api/v1/namespacés', 'outside ASCII'],
    ['/k8s/sandbox/api/v1/pods#frag', 'fragment'],
    ['/k8s/sandbox/api/v1/pods?watch=true;x=1', '";"'],
    ['/k8s/sandbox/api/v1/pods?watch=false&watch=true', 'once'],
    ['/k8s/sandbox/api/v1/pods?watch=yes', 'true or false'],
    ['/k8s/sandbox/api/v1/pods?watch=', 'true or false'],
    ['/k8s/sandbox/api/v1/pods?watch=TRUE', 'true or false'],
    ['/k8s/sandbox/api/v1/pods?fieldSelector=a&fieldSelector=b', 'once'],
    ['/k8s/sandbox/api/v1/pods?x=%zz', 'bad percent'],
  ])('refuses %s (%s)', (url, why) => {
    const r = refused(url);
    expect(r.code).toBe(400);
    expect(r.message).toContain(why === 'outside ASCII' ? 'ASCII' : why === 'space' ? 'space' : why);
  });

  it('answers 404 for what is no cluster path', () => {
    expect(refused('/k8s/').code).toBe(404);
    expect(refused('/k8s/Sandbox/api').code).toBe(404);
    expect(refused('/k8s/sand%62ox/api').code).toBe(404);
    expect(refused('/k8s/sandbox').code).toBe(404);
    expect(refused('/K8S/sandbox/api').code).toBe(404);
  });

  it('normalizes booleans and re-serializes the query it decided on', () => {
    const t = ok('/k8s/c/api/v1/namespaces/d/pods/p/exec?command=sh&command=-c&command=echo+a%26b&stdin=1&tty=true');
    expect(t.query.getAll('command')).toEqual(['sh', '-c', 'echo a&b']);
    expect(t.query.get('stdin')).toBe('true');
    expect(t.upstreamPath).toBe('/api/v1/namespaces/d/pods/p/exec?command=sh&command=-c&command=echo+a%26b&stdin=true&tty=true');
  });
});

describe('percentDecode and encodeSegment', () => {
  it('round-trip any string', () => {
    for (const s of ['a', 'a b', 'é', '%', '+', '?#', 'x:y@z', '日本']) expect(percentDecode(encodeSegment(s))).toBe(s);
  });
});
