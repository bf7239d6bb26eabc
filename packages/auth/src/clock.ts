// Time and randomness are injected so tests move a clock instead of sleeping.
import { randomBytes } from 'node:crypto';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can move by hand. */
export class ManualClock implements Clock {
  #ms: number;
  constructor(start: Date | number = Date.now()) {
    this.#ms = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}

export interface IdSource {
  /** An unguessable identifier, base64url, 128 bits unless told otherwise; never starting with "-". */
  id(bytes?: number): string;
}

/**
 * Ids are typed as commands' arguments (`ztshd tokens rm ID`, `ztsh lock rm
 * ID`), where one starting with "-" reads as options: `-Vtnp7z0` printed
 * the version. One in 64 draws starts so; it is drawn again, which keeps the
 * others uniform and costs 0.02 bits.
 */
export const randomIds: IdSource = {
  id: (bytes = 16) => {
    for (;;) {
      const id = randomBytes(bytes).toString('base64url');
      if (!id.startsWith('-')) return id;
    }
  },
};
