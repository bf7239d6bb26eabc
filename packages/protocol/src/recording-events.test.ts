import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EVENT_HEADER_BYTES,
  EVENT_INPUT,
  EVENT_OUTPUT,
  EVENT_RESIZE,
  MAX_EVENT_BYTES,
  RecordingDecoder,
  RecordingFormatError,
  RecordingTooLargeError,
  recordingPreamble,
  writeEventHeader,
} from './recording-events.ts';

const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 0 };
type Ev = { kind: number; seconds: number; data: Buffer };

function encode(events: Ev[]): Buffer {
  const parts = [recordingPreamble(HEADER)];
  for (const e of events) {
    const head = Buffer.alloc(EVENT_HEADER_BYTES);
    writeEventHeader(head, 0, e.kind, e.seconds, e.data.length);
    parts.push(head, e.data);
  }
  return Buffer.concat(parts);
}

/** The asciicast a terminal decoding each direction as one stream would give: the lines the old writer made. */
function reference(events: Ev[]): string {
  const decoders = new Map([[EVENT_OUTPUT, new TextDecoder()], [EVENT_INPUT, new TextDecoder()]]);
  let out = JSON.stringify(HEADER) + '\n';
  for (const e of events) {
    const t = e.seconds.toFixed(6);
    if (e.kind === EVENT_RESIZE) out += `[${t},"r","${e.data.toString('latin1')}"]\n`;
    else {
      const text = decoders.get(e.kind)!.decode(e.data, { stream: true });
      if (text) out += `[${t},"${e.kind === EVENT_OUTPUT ? 'o' : 'i'}",${JSON.stringify(text)}]\n`;
    }
  }
  return out;
}

function decode(bytes: Buffer, cuts: number[] = [], maxBytes?: number): { text: string; whole: boolean } {
  const decoder = new RecordingDecoder(maxBytes);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    out.push(...decoder.push(bytes.subarray(at, cut)));
    at = cut;
  }
  return { text: Buffer.concat(out).toString('utf8'), whole: decoder.whole };
}

/** Bytes a terminal sees: ASCII, NUL runs, multi-byte characters and bytes that are not UTF-8 at all. */
const terminalBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 50 }).map((s) => Buffer.from(s)),
  fc.nat({ max: 3000 }).map((n) => Buffer.alloc(n)),
  fc.constantFrom(Buffer.from('"quoted" back\\slash \x1b[1;31mred\x1b[0m\r\n\t'), Buffer.from([0xe2, 0x82]), Buffer.from([0xac]), Buffer.from([0xf0, 0x9f])),
);
const event: fc.Arbitrary<Ev> = fc.oneof(
  fc.record({ kind: fc.constantFrom(EVENT_OUTPUT, EVENT_INPUT), seconds: fc.double({ min: 0, max: 1e6, noNaN: true }), data: terminalBytes }),
  fc.record({ kind: fc.constant(EVENT_RESIZE), seconds: fc.double({ min: 0, max: 1e6, noNaN: true }), data: fc.tuple(fc.nat({ max: 65535 }), fc.nat({ max: 65535 })).map(([w, h]) => Buffer.from(`${w}x${h}`)) }),
);

describe('the events format', () => {
  it('reads back as the asciicast a terminal decoding each direction whole would show, however the bytes arrive', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.array(fc.nat({ max: 20_000 }), { maxLength: 12 }), (events, cuts) => {
        const { text, whole } = decode(encode(events), cuts);
        expect(text).toBe(reference(events));
        expect(whole).toBe(true);
      }),
    );
  });

  it('reads a recording cut anywhere (a crash) up to its last whole event', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 20 }), fc.nat(), (events, at) => {
        const bytes = encode(events);
        const cut = recordingPreamble(HEADER).length + (at % (bytes.length - recordingPreamble(HEADER).length));
        const { text } = decode(bytes.subarray(0, cut));
        const full = reference(events);
        expect(full.startsWith(text)).toBe(true);
        expect(text.endsWith('\n')).toBe(true);
      }),
    );
  });

  it('says a recording that ends inside an event is not whole', () => {
    const bytes = encode([{ kind: EVENT_OUTPUT, seconds: 1, data: Buffer.from('hello') }]);
    for (let cut = recordingPreamble(HEADER).length + 1; cut < bytes.length; cut++) expect(decode(bytes.subarray(0, cut)).whole).toBe(false);
    expect(decode(bytes).whole).toBe(true);
  });

  it('keeps a cut character across events of the same direction, not across directions', () => {
    const events = [
      { kind: EVENT_OUTPUT, seconds: 0.1, data: Buffer.from([0xe2, 0x82]) },
      { kind: EVENT_INPUT, seconds: 0.2, data: Buffer.from('x') },
      { kind: EVENT_OUTPUT, seconds: 0.3, data: Buffer.from([0xac, 0x41]) },
    ];
    expect(decode(encode(events)).text).toBe(`${JSON.stringify(HEADER)}\n[0.200000,"i","x"]\n[0.300000,"o","€A"]\n`);
  });

  describe('trusts nothing it reads (a recording comes from a proxy)', () => {
    const event13 = (kind: number, seconds: number, length: number) => {
      const head = Buffer.alloc(EVENT_HEADER_BYTES);
      writeEventHeader(head, 0, kind, seconds, length);
      return head;
    };
    const preamble = recordingPreamble(HEADER);
    it.each([
      ['another file', Buffer.from('{"version":2}\n')],
      ['an asciicast file', Buffer.from('{"version":2,"width":80,"height":24}\n[0.1,"o","x"]\n')],
      ['a header that is not JSON', Buffer.from('ztsh-recording 1\n{"version":2\n')],
      ['a header that is a list', Buffer.from('ztsh-recording 1\n[2]\n')],
      ['a header of another version', Buffer.from('ztsh-recording 1\n{"version":3}\n')],
      ['an unknown kind', Buffer.concat([preamble, event13(0x78, 0, 1), Buffer.from('x')])],
      ['an event longer than any the writer makes', Buffer.concat([preamble, event13(EVENT_OUTPUT, 0, MAX_EVENT_BYTES + 1)])],
      ['an event of 4 GiB', Buffer.concat([preamble, event13(EVENT_OUTPUT, 0, 0xffffffff)])],
      ['a time that is not a number', Buffer.concat([preamble, event13(EVENT_OUTPUT, Number.NaN, 1), Buffer.from('x')])],
      ['an endless time', Buffer.concat([preamble, event13(EVENT_OUTPUT, Number.POSITIVE_INFINITY, 1), Buffer.from('x')])],
      ['a resize that is not COLSxROWS', Buffer.concat([preamble, event13(EVENT_RESIZE, 0, 11), Buffer.from('80x24"],["o')])],
      ['a resize too large for a terminal', Buffer.concat([preamble, event13(EVENT_RESIZE, 0, 13), Buffer.from('999999x999999')])],
    ])('refuses %s', (_, bytes) => {
      expect(() => decode(bytes)).toThrow(RecordingFormatError);
      // Fed a byte at a time, it is refused just the same (no state that lets it through).
      expect(() => decode(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toThrow(RecordingFormatError);
    });

    it('refuses a header that never ends instead of holding it', () => {
      const decoder = new RecordingDecoder();
      decoder.push(Buffer.from('ztsh-recording 1\n{"title":"'));
      expect(() => {
        for (let i = 0; i < 100; i++) decoder.push(Buffer.alloc(1024, 0x61));
      }).toThrow(/header is too long/);
    });

    it('stops at the asciicast cap: a stream of NULs grows six times as asciicast', () => {
      const nuls = Array.from({ length: 32 }, (_, i) => ({ kind: EVENT_OUTPUT, seconds: i, data: Buffer.alloc(MAX_EVENT_BYTES) }));
      expect(() => decode(encode(nuls), [], 1024 * 1024)).toThrow(RecordingTooLargeError);
      expect(decode(encode(nuls), [], 16 * 1024 * 1024).text.length).toBeGreaterThan(6 * 32 * MAX_EVENT_BYTES);
    });
  });
});
