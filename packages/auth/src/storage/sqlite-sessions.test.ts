import { beforeEach, describe, expect, it } from 'vitest';
import { likeEscape } from './sqlite-sessions.ts';
import { ENGINES, SERVER_HOOK_MS } from './storage-engines.fixtures.ts';
import type { SessionRecord, Storage } from './storage.ts';

function session(id: string): SessionRecord {
  return {
    id, kind: 'exec', user: 'alice', roles: [], cluster: 'c', namespace: 'n', pod: 'p', container: null, command: [], tty: false,
    kubernetesUser: 'alice', kubernetesGroups: [], clientIp: null, startedAt: 0, endedAt: null, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath: null, recordingSize: null,
  };
}

describe.each(ENGINES)('sessions.withPrefix ($name)', (engine) => {
  let storage: Storage;
  beforeEach(async () => {
    storage = await (await engine.fresh()).open();
    // Ids with LIKE's own characters in them: the store takes what it is given, so the prefix search must not widen.
    for (const id of ['abcd-1', 'abcd-2', 'ab%d-3', 'ab_d-4', 'ab\\d-5', 'xbcd-6', 'ABCD-7']) await storage.sessions.insert(session(id));
  }, SERVER_HOOK_MS);

  it('counts the ids that start with the prefix, and gives the first', async () => {
    // As SQLite's LIKE: ASCII letters match either case; the first id is the first in byte order.
    expect(await storage.sessions.withPrefix('abcd')).toEqual({ count: 3, id: 'ABCD-7' });
    expect(await storage.sessions.withPrefix('abcd-2')).toEqual({ count: 1, id: 'abcd-2' });
    expect(await storage.sessions.withPrefix('nope')).toEqual({ count: 0, id: undefined });
  });

  it('matches %, _ and \\ as themselves, never as wildcards or an escape', async () => {
    expect(await storage.sessions.withPrefix('ab%')).toEqual({ count: 1, id: 'ab%d-3' });
    expect(await storage.sessions.withPrefix('ab_')).toEqual({ count: 1, id: 'ab_d-4' });
    expect(await storage.sessions.withPrefix('ab\\')).toEqual({ count: 1, id: 'ab\\d-5' });
    expect(await storage.sessions.withPrefix('%')).toEqual({ count: 0, id: undefined });
    expect(await storage.sessions.withPrefix('_bcd')).toEqual({ count: 0, id: undefined });
    expect(await storage.sessions.withPrefix('\\')).toEqual({ count: 0, id: undefined });
    expect(likeEscape('a%b_c\\d')).toBe('a\\%b\\_c\\\\d');
  });
});
