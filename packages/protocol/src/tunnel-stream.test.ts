import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkServerPreface, goawayWatch, TUNNEL_MESSAGE_BYTES, tunnelStream } from './tunnel-stream.ts';

const frame = (type: number, payload: Buffer, stream = 0, flags = 0) => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
};
const setting = (id: number, value: number) => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(id, 0);
  b.writeUInt32BE(value, 2);
  return b;
};
const goaway = (code: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(code, 4);
  return frame(7, Buffer.concat([b, Buffer.from('debug data')]));
};
const MAGIC = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

describe('checkServerPreface', () => {
  it('accepts a SETTINGS frame, once it is whole', () => {
    const settings = frame(4, Buffer.concat([setting(0x4, 1 << 20), setting(0x5, 16_384)]));
    expect(checkServerPreface(settings.subarray(0, 12))).toEqual({ done: false });
    expect(checkServerPreface(settings)).toEqual({ done: true });
    expect(checkServerPreface(Buffer.concat([settings, Buffer.from('anything after')]))).toEqual({ done: true });
  });

  it('finds what no agent sends first', () => {
    const problem = (bytes: Buffer) => (checkServerPreface(bytes) as { problem?: string }).problem;
    expect(problem(Buffer.from('GET / HTTP/1.1\r\n'))).toMatch(/not SETTINGS/);
    expect(problem(frame(4, Buffer.alloc(0), 0, 1))).toMatch(/ACK/);
    expect(problem(frame(4, Buffer.alloc(0), 1))).toMatch(/stream/);
    expect(problem(frame(4, Buffer.alloc(5)))).toMatch(/payload/);
    expect(problem(Buffer.from([0, 0x40, 0x02, 4, 0, 0, 0, 0, 0]))).toMatch(/payload/);
    expect(problem(frame(4, setting(0x4, 0x80000000)))).toMatch(/INITIAL_WINDOW_SIZE/);
    expect(problem(frame(4, setting(0x5, 100)))).toMatch(/MAX_FRAME_SIZE/);
    expect(problem(frame(4, setting(0x2, 7)))).toMatch(/ENABLE_PUSH/);
  });
});

describe('goawayWatch', () => {
  const frames = (code: number) => Buffer.concat([MAGIC, frame(4, setting(0x4, 1 << 20)), frame(8, Buffer.alloc(4)), frame(0, Buffer.alloc(16_384, 0x07), 1), frame(1, Buffer.from('headers'), 3), goaway(code), frame(6, Buffer.alloc(8))]);

  it('reports the error code of a GOAWAY however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 13 }), fc.array(fc.nat(), { maxLength: 20 }), (code, cuts) => {
        const bytes = frames(code);
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b);
        const seen: number[] = [];
        const watch = goawayWatch(true, (c) => seen.push(c));
        let from = 0;
        for (const to of [...points, bytes.length]) {
          watch(bytes.subarray(from, to));
          from = to;
        }
        expect(seen).toEqual([code]);
      }),
      { numRuns: 200 },
    );
  });

  it('stays quiet while no GOAWAY went out, even when a DATA payload looks like one', () => {
    const seen: number[] = [];
    const watch = goawayWatch(false, (c) => seen.push(c));
    watch(frame(0, goaway(2), 1));
    watch(frame(4, Buffer.alloc(0)));
    expect(seen).toEqual([]);
  });
});

describe('tunnelStream', () => {
  it('cuts a large batch into messages of at most TUNNEL_MESSAGE_BYTES, in order', async () => {
    const sent: Buffer[] = [];
    const ws = { readyState: 1, send: (data: Buffer, cb: (err?: Error) => void) => (sent.push(Buffer.from(data)), setImmediate(cb)) };
    const duplex = tunnelStream(new Duplex({ read() {}, write: (_c, _e, cb) => cb() }), ws);
    const big = Buffer.alloc(TUNNEL_MESSAGE_BYTES * 2 + 5);
    for (let i = 0; i < big.length; i += 1) big[i] = i % 251;
    duplex.cork();
    duplex.write(big.subarray(0, 9));
    duplex.write(big.subarray(9));
    duplex.uncork();
    await new Promise<void>((resolve) => duplex.write(Buffer.from('end'), () => resolve()));
    expect(sent.map((m) => m.length)).toEqual([TUNNEL_MESSAGE_BYTES, TUNNEL_MESSAGE_BYTES, 5, 3]);
    expect(Buffer.concat(sent).subarray(0, big.length).equals(big)).toBe(true);
  });
});
