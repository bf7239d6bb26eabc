import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { declaredLength, relayHoldingEnd } from './held-end.ts';

/** A client that takes `room` bytes before it asks the sender to wait. */
function client(room = Infinity) {
  const got: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: room === Infinity ? 1 << 30 : room,
    write(chunk: Buffer, _enc, done) {
      got.push(chunk);
      done();
    },
  });
  return { sink, text: () => Buffer.concat(got).toString() };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('relayHoldingEnd: what completes an answer waits; the rest streams', () => {
  it('without a length, every byte goes on at once and only the end is held', async () => {
    const from = new PassThrough();
    const to = client();
    let ended: Buffer[] | undefined;
    relayHoldingEnd(from, to.sink, undefined, () => {}, (held) => (ended = held));
    from.write('{"type":"ADDED"}\n');
    await turn();
    // A watch event reaches the client before the answer ends.
    expect(to.text()).toBe('{"type":"ADDED"}\n');
    expect(ended).toBeUndefined();
    from.end();
    await turn();
    expect(ended).toEqual([]);
  });

  it('with a length, the chunk that completes it is held with the end', async () => {
    const from = new PassThrough();
    const to = client();
    const seen: string[] = [];
    let ended: Buffer[] | undefined;
    relayHoldingEnd(from, to.sink, 10, (c) => seen.push(c.toString()), (held) => (ended = held));
    from.write('12345');
    await turn();
    expect(to.text()).toBe('12345');
    from.write('67890');
    await turn();
    // The client would read the answer as whole with these bytes: they wait.
    expect(to.text()).toBe('12345');
    from.end();
    await turn();
    expect(Buffer.concat(ended!).toString()).toBe('67890');
    expect(seen).toEqual(['12345', '67890']);
  });

  it('a length of 0 (an answer with no body) holds everything', async () => {
    const from = new PassThrough();
    const to = client();
    let ended: Buffer[] | undefined;
    relayHoldingEnd(from, to.sink, 0, () => {}, (held) => (ended = held));
    from.end('x');
    await turn();
    expect(to.text()).toBe('');
    expect(Buffer.concat(ended!).toString()).toBe('x');
  });

  it('waits for a slow client (backpressure) and passes nothing after stop()', async () => {
    const from = new PassThrough({ highWaterMark: 4 });
    let release!: () => void;
    const got: string[] = [];
    const slow = new Writable({
      highWaterMark: 4,
      write(chunk: Buffer, _enc, done) {
        got.push(chunk.toString());
        release = done;
      },
    });
    let ended = false;
    const relay = relayHoldingEnd(from, slow, undefined, () => {}, () => (ended = true));
    from.write('aaaa');
    from.write('bbbb');
    await turn();
    expect(from.isPaused()).toBe(true);
    release();
    await turn();
    release();
    await turn();
    expect(got).toEqual(['aaaa', 'bbbb']);
    relay.stop();
    from.end('cccc');
    await turn();
    expect(got).toEqual(['aaaa', 'bbbb']);
    expect(ended).toBe(false);
  });

  it('reads only a plain Content-Length', () => {
    expect(declaredLength('42')).toBe(42);
    expect(declaredLength('0')).toBe(0);
    for (const bad of [undefined, '', '-1', '1e3', ' 4', '4,4', '0x10', '9999999999999999', ['4']]) expect(declaredLength(bad)).toBeUndefined();
  });
});
