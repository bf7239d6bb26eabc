import { constants, createDeflate, deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  FLAG_FIN,
  FrameReader,
  FrameType,
  HEADER_DICTIONARY,
  HeaderDeflater,
  HeaderInflater,
  controlFrame,
  dataFrame,
  decodeNameValues,
  encodeNameValues,
} from './spdy.ts';

describe('SPDY/3 header dictionary', () => {
  it('is the 1423-byte dictionary whose Adler-32 is e3c6a7c2 (what kubectl checks)', () => {
    expect(HEADER_DICTIONARY.length).toBe(1423);
    const dictId = deflateSync(Buffer.alloc(0), { dictionary: HEADER_DICTIONARY }).subarray(2, 6);
    expect(dictId.toString('hex')).toBe('e3c6a7c2');
  });
});

describe('header blocks', () => {
  it('our stored-block stream decodes block by block as one zlib stream', () => {
    const d = new HeaderDeflater();
    const first = d.deflate(encodeNameValues({}));
    const second = d.deflate(encodeNameValues({ port: '8080', streamtype: 'data' }));
    const opts = { dictionary: HEADER_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH };
    const one = inflateSync(first, opts);
    expect(decodeNameValues(one)).toEqual({});
    const both = inflateSync(Buffer.concat([first, second]), opts);
    expect(decodeNameValues(both.subarray(one.length))).toEqual({ port: '8080', streamtype: 'data' });
  });

  it("reads a peer's compressed blocks that continue one zlib stream", async () => {
    const deflate = createDeflate({ dictionary: HEADER_DICTIONARY });
    const out: Buffer[] = [];
    deflate.on('data', (c: Buffer) => out.push(c));
    const block = async (h: Record<string, string>) => {
      out.length = 0;
      deflate.write(encodeNameValues(h));
      await new Promise<void>((r) => deflate.flush(constants.Z_SYNC_FLUSH, () => r()));
      return Buffer.concat(out);
    };
    const inflater = new HeaderInflater();
    const a = await block({ streamtype: 'error', port: '8080', requestid: '0' });
    const b = await block({ streamtype: 'data', port: '8080', requestid: '0' });
    expect(decodeNameValues(inflater.inflate(a))).toEqual({ streamtype: 'error', port: '8080', requestid: '0' });
    expect(decodeNameValues(inflater.inflate(b))).toEqual({ streamtype: 'data', port: '8080', requestid: '0' });
  });
});

describe('FrameReader', () => {
  it('finds the same frames however the byte stream is cut', () => {
    const bytes = Buffer.concat([
      controlFrame(FrameType.Ping, 0, Buffer.from([0, 0, 0, 1])),
      dataFrame(3, 0, Buffer.from('hello')),
      dataFrame(3, FLAG_FIN, Buffer.alloc(0)),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new FrameReader();
      const frames = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      expect(frames).toEqual([
        { kind: 'control', type: FrameType.Ping, flags: 0, payload: Buffer.from([0, 0, 0, 1]) },
        { kind: 'data', streamId: 3, flags: 0, data: Buffer.from('hello') },
        { kind: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) },
      ]);
    }
  });

  it('writes control frames with version 3, type, flags and length', () => {
    const f = controlFrame(FrameType.SynReply, FLAG_FIN, Buffer.from([1, 2, 3]));
    expect(f.subarray(0, 8).toString('hex')).toBe('8003000201000003');
  });
});
