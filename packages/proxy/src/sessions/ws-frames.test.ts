import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeFrame, FrameParser, frameRefusal, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_TEXT, serverFrame } from './ws-frames.ts';

/** A masked client frame. */
function clientFrame(opcode: number, payload: Buffer, fin = true, rsv = 0): Buffer {
  const mask = Buffer.from([9, 8, 7, 6]);
  const n = payload.length;
  const b0 = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const head = n < 126 ? Buffer.from([b0, 0x80 | n]) : n < 65536 ? Buffer.from([b0, 0x80 | 126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([b0, 0x80 | 127]), Buffer.alloc(8)]);
  if (n >= 65536) head.writeBigUInt64BE(BigInt(n), 2);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

describe('FrameParser', () => {
  it('finds the same frames and passes the same bytes however the stream is cut (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 70_000 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 30 }),
        (frames, cuts) => {
          const encoded = frames.map(([p, masked]) => (masked ? clientFrame(OP_BINARY, Buffer.from(p)) : serverFrame(OP_BINARY, Buffer.from(p))));
          const stream = Buffer.concat(encoded);
          const parser = new FrameParser();
          const out: Buffer[] = [];
          const payloads: Buffer[] = [];
          let at = 0;
          let i = 0;
          while (at < stream.length) {
            const size = cuts[i++ % cuts.length]!;
            const { frames: got, complete } = parser.push(stream.subarray(at, at + size));
            out.push(complete);
            payloads.push(...got.map((f) => f.payload));
            at += size;
          }
          expect(Buffer.concat(out).equals(stream)).toBe(true);
          expect(payloads.map((p) => p.toString('hex'))).toEqual(frames.map(([p]) => Buffer.from(p).toString('hex')));
          expect(parser.atBoundary).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('holds a large frame arriving in small pieces without copying it again per piece', () => {
    const big = clientFrame(OP_BINARY, Buffer.alloc(8 * 1024 * 1024, 1));
    const parser = new FrameParser();
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      copied += total ?? list.reduce((n, b) => n + b.length, 0);
      return concat(list, total);
    }) as typeof Buffer.concat;
    try {
      for (let at = 0; at < big.length; at += 16 * 1024) parser.push(big.subarray(at, at + 16 * 1024));
    } finally {
      Buffer.concat = concat;
    }
    // Joined once (plus the header's first pieces), not once per piece.
    expect(copied).toBeLessThan(2 * big.length);
  });

  it('refuses a frame larger than it will hold, as soon as its header says so', () => {
    const head = Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    expect(() => new FrameParser().push(head)).toThrow(/too large/);
    const fiveMiB = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x50, 0, 0, 1, 2, 3, 4]);
    expect(() => new FrameParser(4 * 1024 * 1024).push(fiveMiB)).toThrow(/too large/);
  });
});

describe('frameRefusal', () => {
  const parse = (bytes: Buffer) => new FrameParser().push(bytes).frames[0]!;
  it('lets whole data, close and ping frames through', () => {
    expect(frameRefusal(parse(clientFrame(OP_BINARY, Buffer.from('\x00ls\n'))))).toBeUndefined();
    expect(frameRefusal(parse(closeFrame(1000, 'bye')))).toBeUndefined();
    expect(frameRefusal(parse(clientFrame(0x9, Buffer.alloc(0))))).toBeUndefined();
  });
  it('refuses fragments, continuations, reserved bits and unknown opcodes', () => {
    expect(frameRefusal(parse(clientFrame(OP_BINARY, Buffer.from('\x01a'), false)))).toMatch(/fragmented/);
    expect(frameRefusal(parse(clientFrame(OP_CONTINUATION, Buffer.from('\x00rm'))))).toMatch(/fragmented/);
    expect(frameRefusal(parse(clientFrame(OP_BINARY, Buffer.from('\x00x'), true, 4)))).toMatch(/reserved/);
    expect(frameRefusal(parse(clientFrame(0x3, Buffer.from('x'))))).toMatch(/opcode/);
  });
});

describe('FrameParser at the edges of the length encodings', () => {
  for (const n of [0, 125, 126, 127, 65535, 65536]) {
    it(`reads a ${n}-byte payload, masked and unmasked, whole and cut after each header byte`, () => {
      const payload = Buffer.alloc(n, 0x41);
      for (const bytes of [clientFrame(OP_BINARY, payload), serverFrame(OP_BINARY, payload)]) {
        // The header is 2, 4 or 10 bytes (plus 4 of mask): cut inside it, and just before the end.
        for (const cut of [1, 2, 3, 4, 9, 10, 13, 14, bytes.length - 1]) {
          if (cut <= 0 || cut >= bytes.length) continue;
          const parser = new FrameParser();
          const first = parser.push(bytes.subarray(0, cut));
          expect(first.frames, `cut ${cut}`).toEqual([]);
          expect(first.complete.length).toBe(0);
          expect(parser.atBoundary).toBe(false);
          const second = parser.push(bytes.subarray(cut));
          expect(second.frames.map((f) => f.payload.equals(payload)), `cut ${cut}`).toEqual([true]);
          expect(second.complete.equals(bytes)).toBe(true);
          expect(parser.atBoundary).toBe(true);
        }
      }
    });
  }

  it('uses the 2-byte length from 126 bytes and the 8-byte one from 65536, as RFC 6455 says', () => {
    expect(serverFrame(OP_BINARY, Buffer.alloc(125))[1]).toBe(125);
    expect(serverFrame(OP_BINARY, Buffer.alloc(126))[1]).toBe(126);
    expect(serverFrame(OP_BINARY, Buffer.alloc(65535))[1]).toBe(126);
    expect(serverFrame(OP_BINARY, Buffer.alloc(65536))[1]).toBe(127);
  });

  it('unmasks a copy and leaves the bytes it relays as they came', () => {
    const bytes = clientFrame(OP_BINARY, Buffer.from('\x00secret'));
    const before = Buffer.from(bytes);
    const { frames, complete } = new FrameParser().push(bytes);
    expect(frames[0]!.payload.toString()).toBe('\x00secret');
    expect(complete.equals(before)).toBe(true);
    expect(bytes.equals(before)).toBe(true);
  });

  it('reads several frames from one chunk, and keeps a partial one for the next', () => {
    const a = clientFrame(OP_BINARY, Buffer.from('\x00a'));
    const b = clientFrame(OP_TEXT, Buffer.from('\x00b'));
    const c = serverFrame(OP_BINARY, Buffer.alloc(300, 1));
    const parser = new FrameParser();
    const first = parser.push(Buffer.concat([a, b, c.subarray(0, 100)]));
    expect(first.frames.map((f) => f.opcode)).toEqual([OP_BINARY, OP_TEXT]);
    expect(first.complete.equals(Buffer.concat([a, b]))).toBe(true);
    const second = parser.push(c.subarray(100));
    expect(second.frames.map((f) => f.payload.length)).toEqual([300]);
  });

  it('holds a masked frame whose payload is the maximum, and refuses from its header alone one past it and the largest header', () => {
    const max = 70_000;
    const exact = clientFrame(OP_BINARY, Buffer.alloc(max));
    expect(new FrameParser(max).push(exact).frames[0]!.payload.length).toBe(max);
    // The bound is on the bytes held: payload plus up to 14 bytes of header and mask.
    const over = serverFrame(OP_BINARY, Buffer.alloc(max + 15));
    expect(() => new FrameParser(max).push(over.subarray(0, 10))).toThrow(/too large/);
    // Arriving in pieces changes nothing.
    const parser = new FrameParser(max);
    expect(() => {
      for (let at = 0; at < over.length; at += 4096) parser.push(over.subarray(at, at + 4096));
    }).toThrow(/too large/);
  });

  it('refuses an 8-byte length past what any frame may be, whatever the parser holds', () => {
    const huge = Buffer.from([0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(() => new FrameParser(Number.MAX_SAFE_INTEGER).push(huge)).toThrow(/too large/);
  });
});

describe('frameRefusal on each opcode and reserved bit', () => {
  const parse = (bytes: Buffer) => new FrameParser().push(bytes).frames[0]!;
  it('refuses every reserved bit alone', () => {
    for (const rsv of [1, 2, 4]) expect(frameRefusal(parse(clientFrame(OP_BINARY, Buffer.from('\x00x'), true, rsv))), String(rsv)).toMatch(/reserved bits/);
  });
  it('refuses every unknown opcode, data and control', () => {
    for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) expect(frameRefusal(parse(clientFrame(opcode, Buffer.from('x')))), String(opcode)).toBe(`unknown opcode ${opcode}`);
  });
  it('lets text, binary, close, ping and pong through whole', () => {
    for (const opcode of [OP_TEXT, OP_BINARY, OP_CLOSE, 0x9, 0xa]) expect(frameRefusal(parse(clientFrame(opcode, Buffer.from('x')))), String(opcode)).toBeUndefined();
  });
  it('refuses a text message in fragments as it does a binary one', () => {
    expect(frameRefusal(parse(clientFrame(OP_TEXT, Buffer.from('\x00a'), false)))).toMatch(/fragmented/);
  });
});
