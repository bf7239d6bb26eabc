import { mkdirSync, mkdtempSync, existsSync, readFileSync, rmSync, writeFileSync, type ReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { recordingHandover } from './recording-handover.ts';

const log = pino({ level: 'silent' });
const ID = '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed';
const OTHER = '6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b';

/** An auth service that keeps what it is handed, or refuses while `refusing`. */
function authStore() {
  const received = new Map<string, string>();
  const store = {
    received,
    refusing: false,
    tries: 0,
    upload: async (id: string, file: ReadStream, size: number) => {
      store.tries++;
      const chunks: Buffer[] = [];
      for await (const chunk of file) chunks.push(chunk as Buffer);
      if (store.refusing) throw new Error('the auth service answered 503');
      const body = Buffer.concat(chunks);
      if (body.length !== size) throw new Error('short recording');
      received.set(id, body.toString());
    },
  };
  return store;
}

describe('the recording hand-over', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ztsh-handover-'));
    mkdirSync(join(dir, '2026-11-23'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (relative: string, body: string) => writeFileSync(join(dir, relative), body);

  it('hands a session\'s recording to auth when it ends, then deletes its own copy', async () => {
    const auth = authStore();
    const handover = recordingHandover({ dir, upload: auth.upload, log, retry: { stopped: () => false, firstWaitMs: 0 } });
    write(`2026-11-23/${ID}.cast`, '{"version":2}\n[0.1,"o","hi"]\n');
    handover.remember(ID, `2026-11-23/${ID}.cast`);
    await handover.sessionEnded(ID);
    expect(auth.received.get(ID)).toBe('{"version":2}\n[0.1,"o","hi"]\n');
    expect(existsSync(join(dir, `2026-11-23/${ID}.cast`))).toBe(false);
  });

  it('does nothing for a session it was not told of (a port-forward has no recording)', async () => {
    const auth = authStore();
    const handover = recordingHandover({ dir, upload: auth.upload, log, retry: { stopped: () => false, firstWaitMs: 0 } });
    await handover.sessionEnded(ID);
    expect(auth.tries).toBe(0);
  });

  it('tries a few times, then keeps the recording for a later start', async () => {
    const auth = authStore();
    auth.refusing = true;
    const handover = recordingHandover({ dir, upload: auth.upload, log, retry: { stopped: () => false, attempts: 3, firstWaitMs: 0 } });
    write(`2026-11-23/${ID}.cast`, 'cast');
    handover.remember(ID, `2026-11-23/${ID}.cast`);
    await handover.sessionEnded(ID);
    expect(auth.tries).toBe(3);
    expect(readFileSync(join(dir, `2026-11-23/${ID}.cast`), 'utf8')).toBe('cast');

    // The next start finds it and hands it over.
    auth.refusing = false;
    await recordingHandover({ dir, upload: auth.upload, log, retry: { stopped: () => false } }).leftovers();
    expect(auth.received.get(ID)).toBe('cast');
    expect(existsSync(join(dir, `2026-11-23/${ID}.cast`))).toBe(false);
  });

  it('stops trying once the proxy is stopping', async () => {
    const auth = authStore();
    auth.refusing = true;
    const handover = recordingHandover({ dir, upload: auth.upload, log, retry: { stopped: () => true, firstWaitMs: 0 } });
    write(`2026-11-23/${ID}.cast`, 'cast');
    handover.remember(ID, `2026-11-23/${ID}.cast`);
    await handover.sessionEnded(ID);
    expect(auth.tries).toBe(1);
  });

  it('hands over only files named as recordings, in day folders', async () => {
    const auth = authStore();
    write(`2026-11-23/${OTHER}.cast`, 'left');
    write('2026-11-23/notes.txt', 'x');
    write(`2026-11-23/${ID}.cast.upload`, 'partial');
    mkdirSync(join(dir, 'tmp'));
    write(`tmp/${ID}.cast`, 'elsewhere');
    await recordingHandover({ dir, upload: auth.upload, log, retry: { stopped: () => false } }).leftovers();
    expect([...auth.received.keys()]).toEqual([OTHER]);
    expect(existsSync(join(dir, 'tmp', `${ID}.cast`))).toBe(true);
  });

  it('has nothing to do when the folder does not exist yet', async () => {
    const auth = authStore();
    await recordingHandover({ dir: join(dir, 'none'), upload: auth.upload, log, retry: { stopped: () => false } }).leftovers();
    expect(auth.tries).toBe(0);
  });
});
