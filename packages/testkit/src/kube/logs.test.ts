import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogBook, MAX_LINES } from './logs.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('live logs', () => {
  it('write a line every period only while someone reads, and leave no timer when the last one goes', () => {
    vi.useFakeTimers();
    const book = createLogBook();
    book.live('default', 'web-1', { lines: ['probe {n}', 'request {n}'], everyMs: 1000 });
    vi.advanceTimersByTime(5000);
    expect(vi.getTimerCount()).toBe(0); // nobody reads: the pod writes nothing

    const a: string[] = [];
    const b: string[] = [];
    const stopA = book.subscribe('default', 'web-1', (l) => a.push(l));
    vi.advanceTimersByTime(2000);
    const stopB = book.subscribe('default', 'web-1', (l) => b.push(l));
    expect(book.followers('default', 'web-1')).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(a).toEqual(['probe 1\n', 'request 2\n', 'probe 3\n']);
    expect(b).toEqual(['probe 3\n']);

    stopA();
    stopA(); // twice counts once
    expect(book.followers('default', 'web-1')).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(b).toEqual(['probe 3\n', 'request 4\n']);
    stopB();
    expect(book.followers('default', 'web-1')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(a).toHaveLength(3);
    expect(b).toHaveLength(2);
  });

  it('stop when the pod is forgotten or the server closes', () => {
    vi.useFakeTimers();
    const book = createLogBook();
    book.live('default', 'a', { lines: ['x'] });
    book.live('default', 'b', { lines: ['y'] });
    book.subscribe('default', 'a', () => undefined);
    book.subscribe('default', 'b', () => undefined);
    expect(vi.getTimerCount()).toBe(2);
    book.forget('default', 'a');
    expect(vi.getTimerCount()).toBe(1);
    book.closeAll();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keep at most MAX_LINES lines of a pod', () => {
    const book = createLogBook();
    for (let i = 0; i < MAX_LINES + 5; i++) book.append('default', 'busy', `line ${i}`);
    let body = '';
    const res = { writeHead: () => res, write: (c: Buffer) => void (body += c.toString()), end: () => undefined, on: () => res };
    book.serve(res as never, 'default', 'busy', new URLSearchParams('tailLines=-1'));
    const lines = body.trim().split('\n');
    expect(lines).toHaveLength(MAX_LINES);
    expect(lines[0]).toBe('line 5');
  });
});
