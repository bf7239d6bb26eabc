import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from './sqlite.ts';
import { likeEscape } from './sqlite-sessions.ts';
import type { SessionRecord, Storage } from './storage.ts';

let dir: string;
let storage: Storage;

function session(id: string): SessionRecord {
  return {
    id, kind: 'exec', user: 'alice', roles: [], cluster: 'c', namespace: 'n', pod: 'p', container: null, command: [], tty: false,
    kubernetesUser: 'alice', kubernetesGroups: [], clientIp: null, startedAt: 0, endedAt: null, exitCode: null, endReason: null,
    bytesIn: 0, bytesOut: 0, recordingPath: null, recordingSize: null,
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ztsh-sessions-'));
  storage = openSqliteStorage(join(dir, 'ztsh.db'));
  // Ids with LIKE's own characters in them: the store takes what it is given, so the prefix search must not widen.
  for (const id of ['abcd-1', 'abcd-2', 'ab%d-3', 'ab_d-4', 'ab\\d-5', 'xbcd-6']) storage.sessions.insert(session(id));
});
afterAll(() => {
  storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sessions.withPrefix', () => {
  it('counts the ids that start with the prefix, and gives the first', () => {
    expect(storage.sessions.withPrefix('abcd')).toEqual({ count: 2, id: 'abcd-1' });
    expect(storage.sessions.withPrefix('abcd-2')).toEqual({ count: 1, id: 'abcd-2' });
    expect(storage.sessions.withPrefix('nope')).toEqual({ count: 0, id: undefined });
  });

  it('matches %, _ and \\ as themselves, never as wildcards or an escape', () => {
    expect(storage.sessions.withPrefix('ab%')).toEqual({ count: 1, id: 'ab%d-3' });
    expect(storage.sessions.withPrefix('ab_')).toEqual({ count: 1, id: 'ab_d-4' });
    expect(storage.sessions.withPrefix('ab\\')).toEqual({ count: 1, id: 'ab\\d-5' });
    expect(storage.sessions.withPrefix('%')).toEqual({ count: 0, id: undefined });
    expect(storage.sessions.withPrefix('_bcd')).toEqual({ count: 0, id: undefined });
    expect(storage.sessions.withPrefix('\\')).toEqual({ count: 0, id: undefined });
    expect(likeEscape('a%b_c\\d')).toBe('a\\%b\\_c\\\\d');
  });
});
