import { describe, expect, it } from 'vitest';
import { copyHeaders, dropHopByHop, dropTowardsAuth, dropTowardsCluster } from './header-copy.ts';

const request = {
  ':method': 'GET',
  ':path': '/x',
  host: 'access.example.com',
  connection: 'keep-alive',
  'keep-alive': 'timeout=5',
  'proxy-connection': 'x',
  'transfer-encoding': 'chunked',
  upgrade: 'websocket',
  te: 'trailers',
  'http2-settings': 'x',
  authorization: 'Bearer stolen',
  'impersonate-user': 'admin',
  'impersonate-group': ['system:masters'],
  'impersonate-extra-scopes': 'x',
  'impersonate-uid': '0',
  'x-remote-user': 'admin',
  'x-remote-group': 'system:masters',
  'x-remote-extra-scopes': 'x',
  'x-ztsh-impersonate-user': 'admin',
  'x-ztsh-forwarded-for': '10.0.0.1',
  accept: 'application/json',
  'content-type': 'application/json',
  'user-agent': 'kubectl/v1.33',
  cookie: 'a=b',
  absent: undefined,
};

describe('copyHeaders', () => {
  it('towards a cluster: no hop-by-hop, pseudo, credential, impersonation, front-proxy or x-ztsh header', () => {
    expect(copyHeaders(request, dropTowardsCluster)).toEqual({ accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'kubectl/v1.33', cookie: 'a=b' });
  });

  it('towards auth: the client\'s own headers (its cookie and authorization among them), never an x-ztsh one', () => {
    expect(copyHeaders(request, dropTowardsAuth)).toEqual({
      authorization: 'Bearer stolen',
      'impersonate-user': 'admin',
      'impersonate-group': ['system:masters'],
      'impersonate-extra-scopes': 'x',
      'impersonate-uid': '0',
      'x-remote-user': 'admin',
      'x-remote-group': 'system:masters',
      'x-remote-extra-scopes': 'x',
      accept: 'application/json',
      'content-type': 'application/json',
      'user-agent': 'kubectl/v1.33',
      cookie: 'a=b',
    });
  });

  it('back to a client: only hop-by-hop and pseudo-headers go', () => {
    const answer = { ':status': 200, 'content-type': 'application/json', 'transfer-encoding': 'chunked', connection: 'close', 'set-cookie': ['a=b', 'c=d'], 'x-ztsh-upstream-status': '101' };
    expect(copyHeaders(answer, dropHopByHop)).toEqual({ 'content-type': 'application/json', 'set-cookie': ['a=b', 'c=d'], 'x-ztsh-upstream-status': '101' });
  });

  it('pollutes no prototype with a header named __proto__', () => {
    const headers = JSON.parse('{"__proto__": {"polluted": "yes"}, "accept": "*/*"}') as Record<string, string>;
    const out = copyHeaders(headers, dropHopByHop);
    expect(out.accept).toBe('*/*');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('copyHeaders into an object', () => {
  it('adds the kept headers to it and leaves what it held', () => {
    const into = { ':status': 200 };
    const out = copyHeaders({ ':status': '500', 'content-type': 'application/json', connection: 'close' }, dropHopByHop, into);
    expect(out).toBe(into);
    expect(out).toEqual({ ':status': 200, 'content-type': 'application/json' });
  });

  it('copies no inherited name', () => {
    const headers = Object.create({ inherited: 'x' }) as Record<string, string>;
    headers.own = 'y';
    expect(copyHeaders(headers, dropHopByHop)).toEqual({ own: 'y' });
  });
});
