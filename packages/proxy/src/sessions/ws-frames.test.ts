import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeFrame, FrameParser, frameRefusal, OP_BINARY, OP_CONTINUATION, serverFrame } from './ws-frames.ts';

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
