// Reads a profile's key and certificate as one pair. `ztsh login` replaces a
// profile by renaming a new folder over the old one (home.ts), so a reader
// racing it could find no folder for a moment, or take the key from the old
// folder and the certificate from the new: kubectl would then fail the TLS
// handshake. The folder's identity, the same before and after both reads,
// shows both files came from one folder. The inode alone is not enough: a
// folder made by a later login may get the number of one just deleted, so its
// birth and change times go with it (a rename changes the change time); a missing folder beside an `.old-` sibling
// means a swap is under way, so wait a moment and read again.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface KeyPair {
  keyPem: string;
  certPem: string;
}

const TRIES = 300;
const PAUSE_MS = 10;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

function identity(dir: string): string | undefined {
  const stat = statSync(dir, { bigint: true, throwIfNoEntry: false });
  return stat && `${stat.ino}:${stat.birthtimeNs}:${stat.ctimeNs}`;
}

function swapping(dir: string): boolean {
  const prefix = `${basename(dir)}.old-`;
  try {
    return readdirSync(dirname(dir)).some((name) => name.startsWith(prefix));
  } catch {
    return false;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The pair in `dir`, or undefined when there is no profile there. */
export function readKeyPair(dir: string): KeyPair | undefined {
  for (let attempt = 1; ; attempt++) {
    const before = identity(dir);
    if (before !== undefined) {
      try {
        const pair = { keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'), certPem: readFileSync(join(dir, 'cert.pem'), 'utf8') };
        if (identity(dir) === before) return pair;
      } catch (error) {
        if (!isMissing(error)) throw error;
        // The folder stayed while a file is missing: an incomplete profile, not a swap.
        if (identity(dir) === before) return undefined;
      }
    } else if (!swapping(dir)) {
      return undefined;
    }
    // A stale `.old-` folder left by a login that was killed mid-swap ends the wait too.
    if (attempt >= TRIES) return undefined;
    Atomics.wait(pauseCell, 0, 0, PAUSE_MS);
  }
}
