import { describe, expect, it } from 'vitest';
import { CH_ERROR, CH_STDIN, CH_STDOUT, ChannelReader, exitCodeOf } from './v5-channels.ts';
import { FrameParser, OP_BINARY, OP_CONTINUATION, OP_TEXT, serverFrame, type Frame } from './ws-frames.ts';

const frame = (opcode: number, payload: Buffer, fin = true): Frame => ({ fin, rsv: 0, opcode, payload });

describe('exitCodeOf: the exit status the recorder reads from the error channel', () => {
  it('reads 0 from a Success Status', () => {
    expect(exitCodeOf('{"metadata":{},"status":"Success"}')).toEqual({ code: 0 });
  });

  it('reads N from a NonZeroExitCode Status with an ExitCode cause, as the apiserver sends it', () => {
    const status = {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    };
    expect(exitCodeOf(JSON.stringify(status))).toEqual({ code: 3 });
    expect(exitCodeOf(JSON.stringify({ ...status, details: { causes: [{ reason: 'ExitCode', message: '255' }] } }))).toEqual({ code: 255 });
  });

  it('reads no code from a failure to run at all, and keeps its message', () => {
    expect(exitCodeOf('{"status":"Failure","message":"container not found","reason":"NotFound"}')).toEqual({ code: null, message: 'container not found' });
  });

  it('takes only plain digits as a code, and only with the right reason', () => {
    const withCause = (reason: string, message: string) => JSON.stringify({ status: 'Failure', reason, details: { causes: [{ reason: 'ExitCode', message }] } });
    for (const bad of ['-1', '3.5', '1e3', ' 3', '0x10', '']) expect(exitCodeOf(withCause('NonZeroExitCode', bad)).code, bad).toBeNull();
    expect(exitCodeOf(withCause('InternalError', '3')).code).toBeNull();
    expect(exitCodeOf(JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'Other', message: '3' }] } })).code).toBeNull();
  });

  it('reads no code from what is not a Status', () => {
    for (const text of ['', 'exit 3', '{', 'null', '[]', '3']) expect(exitCodeOf(text).code, text).toBeNull();
  });

  it('reads the code from the error channel of a relayed stream, cut anywhere', () => {
    const status = Buffer.from(JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '42' }] } }));
    const bytes = Buffer.concat([serverFrame(OP_BINARY, Buffer.from('\x01hello\n')), serverFrame(OP_BINARY, Buffer.concat([Buffer.from([CH_ERROR]), status]))]);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      let errorText = '';
      const reader = new ChannelReader((channel, data) => {
        if (channel === CH_ERROR) errorText += data.toString();
      });
      const parser = new FrameParser();
      for (const piece of [bytes.subarray(0, cut), bytes.subarray(cut)]) for (const f of parser.push(piece).frames) reader.frame(f);
      expect(exitCodeOf(errorText).code, `cut at ${cut}`).toBe(42);
    }
  });
});

describe('ChannelReader', () => {
  it('gives each message to the channel its first byte names, without that byte', () => {
    const seen: [number, string][] = [];
    const reader = new ChannelReader((channel, data) => seen.push([channel, data.toString()]));
    reader.frame(frame(OP_BINARY, Buffer.from('\x00ls\n')));
    reader.frame(frame(OP_TEXT, Buffer.from('\x01out')));
    reader.frame(frame(OP_BINARY, Buffer.alloc(0)));
    expect(seen).toEqual([
      [CH_STDIN, 'ls\n'],
      [CH_STDOUT, 'out'],
    ]);
  });

  it('keeps a continuation on its message\'s channel, and drops one that follows no message', () => {
    const seen: [number, string][] = [];
    const reader = new ChannelReader((channel, data) => seen.push([channel, data.toString()]));
    reader.frame(frame(OP_CONTINUATION, Buffer.from('\x00orphan')));
    reader.frame(frame(OP_BINARY, Buffer.from('\x01par'), false));
    reader.frame(frame(OP_CONTINUATION, Buffer.from('t')));
    reader.frame(frame(OP_CONTINUATION, Buffer.from('\x00after')));
    expect(seen).toEqual([
      [CH_STDOUT, 'par'],
      [CH_STDOUT, 't'],
    ]);
  });
});
