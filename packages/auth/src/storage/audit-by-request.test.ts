// `ztsh audit search --request ID` on both engines: an access request's own
// steps and what was done under it, nothing that merely mentions the id.
import { describe, expect, it } from 'vitest';
import { ENGINES } from './storage-engines.fixtures.ts';
import type { NewAuditEvent } from './storage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const ID = 'Xq3-vT_9kLmN2pQrS4tUvw';
const OTHER = 'Zz9-aB_1cDeF2gHiJ3kLmn';

const event = (n: number, type: string, fields: Record<string, unknown>, extra: Partial<NewAuditEvent> = {}): NewAuditEvent => ({
  time: new Date(T0 + n * 1000).toISOString(),
  type,
  code: 'ZA2000I',
  success: true,
  user: 'alice',
  message: `event ${n}`,
  fields,
  ...extra,
});

describe.each(ENGINES)('audit search by access request ($name)', (engine) => {
  it('finds the steps and the elevated requests, newest first, and nothing that only mentions the id', async () => {
    const s = await (await engine.fresh()).open();
    await s.audit.appendMany([
      event(1, 'access_request.create', { accessRequest: ID, roles: ['prod-admin'] }),
      event(2, 'access_request.create', { accessRequest: OTHER }),
      event(3, 'access_request.review', { accessRequest: ID, decision: 'approve' }, { user: 'bob' }),
      event(4, 'kube.request', { cluster: 'prod', verb: 'get', accessRequests: [ID] }),
      event(5, 'kube.request', { cluster: 'prod', verb: 'list', accessRequests: [OTHER, ID] }),
      event(6, 'kube.request', { cluster: 'prod', verb: 'get', accessRequests: [OTHER] }),
      // Mentions only: a reason quoting the id, the id in another field, another case, a string instead of a list.
      event(7, 'access_request.create', { accessRequest: OTHER, reason: `follow-up of ${ID}` }),
      event(8, 'kube.request', { cluster: 'prod', name: ID }),
      event(9, 'kube.request', { cluster: 'prod', accessRequests: [ID.toLowerCase()] }),
      event(10, 'kube.request', { cluster: 'prod', accessRequests: ID }),
      event(11, 'kube.request', { cluster: 'prod', accessRequest: [ID] }),
      event(12, 'session.start', { cluster: 'prod', sessionId: 's1', accessRequests: [ID] }),
    ]);
    const seqs = async (q: Parameters<typeof s.audit.search>[0]) => (await s.audit.search(q)).map((e) => Number(e.message!.split(' ')[1]));

    expect(await seqs({ accessRequest: ID })).toEqual([12, 5, 4, 3, 1]);
    expect(await seqs({ accessRequest: OTHER })).toEqual([7, 6, 5, 2]);
    expect(await seqs({ accessRequest: ID.toLowerCase() })).toEqual([9]);
    expect(await seqs({ accessRequest: 'nothing-like-it' })).toEqual([]);
    // With the other filters, and paged.
    expect(await seqs({ accessRequest: ID, type: 'kube.' })).toEqual([5, 4]);
    expect(await seqs({ accessRequest: ID, user: 'bob' })).toEqual([3]);
    const first = await s.audit.search({ accessRequest: ID, limit: 2 });
    expect(first.map((e) => e.message)).toEqual(['event 12', 'event 5']);
    const last = first[first.length - 1]!;
    expect(await seqs({ accessRequest: ID, limit: 10, before: { time: last.time, seq: last.seq } })).toEqual([4, 3, 1]);
  });

  it('survives hostile events among the candidates, and ids with no words at all', async () => {
    const s = await (await engine.fresh()).open();
    await s.audit.appendMany([
      // Escapes that jsonb refuses, in an event that names the id: the search must neither fail nor miss it.
      event(1, 'kube.request', { cluster: 'prod', accessRequests: [ID], path: '/api/\ud800\u0000x' }),
      event(2, 'kube.request', { cluster: 'prod', accessRequests: ['-_-'] }),
      event(3, 'kube.request', { cluster: 'prod', accessRequests: ['_-_'] }),
      event(4, 'kube.request', { cluster: 'prod', accessRequests: [{ id: ID }] }),
    ]);
    const seqs = async (id: string) => (await s.audit.search({ accessRequest: id })).map((e) => e.message);
    expect(await seqs(ID)).toEqual(['event 1']);
    expect(await seqs('-_-')).toEqual(['event 2']);
    expect(await seqs("' OR 1=1 --")).toEqual([]);
  });
});
