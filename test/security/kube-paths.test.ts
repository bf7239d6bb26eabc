// Items 1 and 2 of the security review: a path that the proxy and the
// apiserver would read differently is refused before anything reaches the
// cluster, and audited; an exec can only open as an exec, recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest, type RawRequest } from './helpers/raw-client.ts';

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

/** Sends as alice; returns the answer, what the apiserver double received meanwhile, and the audit events written. */
async function attempt(request: Omit<RawRequest, 'as'>) {
  const seenBefore = k.kube.requests.length;
  const auditBefore = (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).length;
  const answer = await rawRequest(k.stack, { ...request, as: k.alice });
  const events = (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).slice(auditBefore);
  return { answer, received: k.kube.requests.slice(seenBefore), events };
}

const WS = (protocol = 'v5.channel.k8s.io') => ({
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Protocol': protocol,
});

describe('item 1: path encodings and dot segments do not bypass the roles', () => {
  it.each([
    ['GET', '/k8s/sandbox/api/v1/namespaces/dev%2Fsecrets/db-password'],
    ['GET', '/k8s/sandbox/api/v1/namespaces/dev%2fsecrets/db-password'],
    ['GET', '/k8s/sandbox/x/../api/v1/namespaces/default/secrets'],
    ['GET', '/k8s/sandbox/x/%2e%2e/api/v1/namespaces/default/secrets'],
    ['GET', '/k8s/sandbox/api/v1/namespaces/default/./secrets'],
    ['GET', '/k8s/sandbox/api/v1//namespaces/default/secrets'],
    ['DELETE', '/k8s/sandbox/api/v1/namespaces/default/pods/../../../namespaces/kube-public'],
    ['POST', '/k8s/sandbox/api/v1/namespaces/default/configmaps/../../../../../apis/apps/v1/namespaces/kube-system/deployments'],
    ['GET', '/k8s/sandbox/api/v1/namespaces/default/secrets%00'],
    ['GET', '/k8s/sandbox/api/v1/namespaces/default/%zzsecrets'],
    ['GET', '/k8s/sandbox/api/v1/namespaces/default/pods?watch=true;x'],
    ['GET', '/k8s/sandbox/api/v1/namespaces/default/pods?watch=false&watch=true'],
  ])('%s %s is refused with a 400 Status, audited, and nothing reaches the cluster', async (method, path) => {
    const { answer, received, events } = await attempt({ method, path, ...(method === 'POST' ? { body: '{}', headers: { 'Content-Type': 'application/json' } } : {}) });
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ kind: 'Status', code: 400 });
    expect(received).toEqual([]);
    const refusal = events.find((e) => e.type === 'kube.request' && !e.success);
    expect(refusal?.user).toBe('alice');
    expect(refusal?.fields.status).toBe(400);
  });

  it.each(['%73ecrets', '%73%65%63%72%65%74%73', 'secr%65ts'])('.../namespaces/default/%s is read as secrets, denied by the role and audited as a list of secrets', async (encoded) => {
    const { answer, received, events } = await attempt({ path: `/k8s/sandbox/api/v1/namespaces/default/${encoded}` });
    expect(answer.status).toBe(403);
    expect(answer.json()).toMatchObject({ kind: 'Status', code: 403 });
    expect(received).toEqual([]);
    expect(events.find((e) => e.type === 'kube.request')?.fields).toMatchObject({ verb: 'list', resource: 'secrets', namespace: 'default', status: 403 });
  });

  it('an encoded name that is allowed is forwarded decoded and re-encoded, and audited as what it is', async () => {
    const auditBefore = (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).length;
    const { answer, received } = await attempt({ path: '/k8s/sandbox/api/v1/namespaces/default/%70ods/web%2D1' });
    expect(answer.status).toBe(200);
    expect(received.map((r) => r.path)).toEqual(['/api/v1/namespaces/default/pods/web-1']);
    // Allowed requests are audited in batches: wait for this one.
    await expect.poll(async () => (await k.stack.ztshd.auth.storage.audit.list({ limit: 1_000_000 })).slice(auditBefore).find((e) => e.type === 'kube.request')?.fields).toMatchObject({
      verb: 'get',
      resource: 'pods',
      name: 'web-1',
    });
  });

  it('watch=TRUE, which the apiserver would read as a watch, is refused rather than judged a list', async () => {
    const { answer, received } = await attempt({ path: '/k8s/sandbox/api/v1/namespaces/default/pods?watch=TRUE' });
    expect(answer.status).toBe(400);
    expect(received).toEqual([]);
  });

  it('paths outside the API resources pass only the allow-list', async () => {
    for (const path of ['/k8s/sandbox/metrics', '/k8s/sandbox/logs/', '/k8s/sandbox/debug/pprof', '/k8s/sandbox/apis/apps/v1/extra/x/y/z/w']) {
      const { answer, received } = await attempt({ path });
      expect([400, 403], path).toContain(answer.status);
      expect(received, path).toEqual([]);
    }
    for (const path of ['/k8s/sandbox/version', '/k8s/sandbox/api', '/k8s/sandbox/apis', '/k8s/sandbox/openapi/v2', '/k8s/sandbox/openapi/v3', '/k8s/sandbox/healthz']) {
      const { received } = await attempt({ path });
      expect(received.map((r) => r.path), path).toEqual([path.replace('/k8s/sandbox', '')]);
    }
    const posted = await attempt({ method: 'POST', path: '/k8s/sandbox/version', body: '{}' });
    expect(posted.answer.status).toBe(403);
    expect(posted.received).toEqual([]);
  });

  it('a method the API does not use is refused', async () => {
    const { answer, received } = await attempt({ method: 'OPTIONS', path: '/k8s/sandbox/api/v1/namespaces/default/pods' });
    expect(answer.status).toBe(405);
    expect(received).toEqual([]);
  });

  it('the routing prefix is case-sensitive: /K8S/ is not the kube front door', async () => {
    const { answer, received } = await attempt({ path: '/K8S/sandbox/api/v1/namespaces/default/secrets' });
    expect(answer.status).toBe(404);
    expect(received).toEqual([]);
  });
});

describe('item 2: an exec is authorized as an exec and recorded, or refused', () => {
  it('portforward/../exec over v5.channel.k8s.io is refused, and no session runs', async () => {
    const sessionsBefore = (await k.stack.ztshd.auth.storage.sessions.search({ limit: 1000 })).length;
    const { answer, received, events } = await attempt({
      path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/portforward/../exec?command=sh&stdin=true&stdout=true',
      headers: WS(),
    });
    expect(answer.status).toBe(400);
    expect(received).toEqual([]);
    expect(events.some((e) => e.type === 'port_forward.start' || e.type === 'session.start')).toBe(false);
    expect((await k.stack.ztshd.auth.storage.sessions.search({ limit: 1000 })).length).toBe(sessionsBefore);
  });

  it('configmaps/x/../../pods/web-1/exec is not authorized as get configmaps', async () => {
    const { answer, received } = await attempt({ path: '/k8s/sandbox/api/v1/namespaces/default/configmaps/x/../../pods/web-1/exec?command=sh&stdout=true', headers: WS() });
    expect(answer.status).toBe(400);
    expect(received).toEqual([]);
  });

  it('an exec asked for without an upgrade (where nothing would record it) is refused', async () => {
    const { answer, received } = await attempt({ method: 'POST', path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdout=true' });
    expect(answer.status).toBe(400);
    expect(received).toEqual([]);
  });

  it('an upgrade of anything but exec, attach or port-forward is refused, so nothing is recorded as what it is not', async () => {
    const { answer, received } = await attempt({ path: '/k8s/sandbox/api/v1/namespaces/default/pods?watch=true', headers: WS() });
    expect(answer.status).toBe(400);
    expect(received).toEqual([]);
  });

  it('an exec offering only subprotocols the recorder cannot read (base64) is refused', async () => {
    const { answer, received } = await attempt({ path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdout=true', headers: WS('base64.channel.k8s.io, v4.base64.channel.k8s.io') });
    expect(answer.status).toBe(400);
    expect(answer.json().message).toContain('v5.channel.k8s.io');
    expect(received).toEqual([]);
  });

  it('an exec with a port-forward subprotocol is refused', async () => {
    const { answer, received } = await attempt({ path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdout=true', headers: WS('SPDY/3.1+portforward.k8s.io') });
    expect(answer.status).toBe(400);
    expect(received).toEqual([]);
  });

  it('an exec offering v5 and base64 gets v5 only upstream, and is recorded', async () => {
    const { answer, received, events } = await attempt({
      path: '/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=echo&command=hi&stdout=true',
      headers: WS('base64.channel.k8s.io, v5.channel.k8s.io'),
    });
    expect(answer.status).toBe(101);
    expect(answer.headers['sec-websocket-protocol']).toBe('v5.channel.k8s.io');
    expect(received.map((r) => r.headers['sec-websocket-protocol'])).toEqual(['v5.channel.k8s.io']);
    expect(events.find((e) => e.type === 'session.start')?.fields).toMatchObject({ kind: 'exec', pod: 'web-1', command: ['echo', 'hi'] });
  });
});
