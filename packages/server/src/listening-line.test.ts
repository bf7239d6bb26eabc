import { describe, expect, it } from 'vitest';
import { listeningPort } from './listening-line.ts';

describe('listeningPort', () => {
  it("reads the port of ztshd's listening line", () => {
    expect(listeningPort('{"level":30,"svc":"ztshd","listen":"127.0.0.1:40789","publicUrl":"https://localhost:3080/","msg":"ztshd listening"}')).toBe(40789);
    expect(listeningPort('{"level":30,"listen":"[::1]:3080","msg":"ztshd listening"}')).toBe(3080);
  });

  it('ignores every other line, and lines that only look like it', () => {
    for (const line of [
      '{"level":30,"listen":"127.0.0.1:3025","msg":"ztshd auth service listening for proxies"}',
      '{"level":30,"msg":"agent connected","note":"\\"ztshd listening\\"","listen":"127.0.0.1:1"}',
      'error: "ztshd listening" 127.0.0.1:5',
      '{"msg":"ztshd listening","listen":"127.0.0.1:0"}',
      '{"msg":"ztshd listening","listen":"127.0.0.1:99999"}',
      '{"msg":"ztshd listening","listen":3080}',
      '{"msg":"ztshd listening"',
    ]) {
      expect(listeningPort(line), line).toBeUndefined();
    }
  });
});
