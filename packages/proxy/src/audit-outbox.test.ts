import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { createAuditOutbox, type OutboxEvent } from './audit-outbox.ts';

const log = pino({ level: 'silent' });
const event = (n: number, durable = false): OutboxEvent => ({ type: 'kube.request', success: true, durable, input: { user: 'alice', message: `e${n}` } });
const names = (events: OutboxEvent[]) => events.map((e) => e.input.message);

/** An auth service that stores what it gets, and is out of reach while `down`. */
function authSink() {
  const stored: OutboxEvent[] = [];
  const sink = {
    stored,
    down: false,
    calls: 0,
    send: async (events: OutboxEvent[]) => {
      sink.calls++;
      if (sink.down) throw new Error('connect ECONNREFUSED');
      stored.push(...events);
    },
  };
  return sink;
}

describe('the audit outbox', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends routine events together after flushMs, and counts them pending until then', async () => {
    const auth = authSink();
    const outbox = createAuditOutbox({ send: auth.send, log, flushMs: 100 });
    expect(outbox.add(event(1))).toBeUndefined();
    outbox.add(event(2));
    expect(outbox.pending()).toBe(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(auth.calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(names(auth.stored)).toEqual(['e1', 'e2']);
    expect(auth.calls).toBe(1);
    expect(outbox.pending()).toBe(0);
  });

  it('sends a durable event at once, behind those queued before it, and resolves once stored', async () => {
    const auth = authSink();
    const outbox = createAuditOutbox({ send: auth.send, log });
    outbox.add(event(1));
    await outbox.add(event(2, true));
    expect(names(auth.stored)).toEqual(['e1', 'e2']);
  });

  it('rejects a durable event auth did not store, keeps it in order, and sends it again', async () => {
    const auth = authSink();
    const outbox = createAuditOutbox({ send: auth.send, log });
    auth.down = true;
    await expect(outbox.add(event(1, true))).rejects.toThrow(/ECONNREFUSED/);
    outbox.add(event(2));
    expect(outbox.pending()).toBe(2);
    auth.down = false;
    // The retry waits out a backoff (500 ms at first), not the 100 ms batch timer.
    await vi.advanceTimersByTimeAsync(499);
    expect(auth.stored).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(names(auth.stored)).toEqual(['e1', 'e2']);
    expect(outbox.pending()).toBe(0);
  });

  it('backs off further while auth stays away', async () => {
    const auth = authSink();
    const outbox = createAuditOutbox({ send: auth.send, log });
    auth.down = true;
    await outbox.add(event(1, true))?.catch(() => undefined);
    expect(auth.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(auth.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(auth.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(auth.calls).toBe(3);
  });

  it('drops the oldest events beyond its cap, never the newest', async () => {
    const auth = authSink();
    const outbox = createAuditOutbox({ send: auth.send, log, cap: 3 });
    auth.down = true;
    for (let n = 1; n <= 5; n++) outbox.add(event(n));
    await outbox.flush();
    expect(outbox.pending()).toBe(3);
    auth.down = false;
    await outbox.flush();
    expect(names(auth.stored)).toEqual(['e3', 'e4', 'e5']);
  });

  it('sends a full batch without waiting, and the rest behind it, at most `batch` at a time', async () => {
    const sizes: number[] = [];
    const auth = authSink();
    const outbox = createAuditOutbox({ send: (events) => (sizes.push(events.length), auth.send(events)), log, batch: 2 });
    for (let n = 1; n <= 5; n++) outbox.add(event(n));
    await vi.advanceTimersByTimeAsync(0);
    expect(names(auth.stored)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('sends what is left at close, and says how many it could not', async () => {
    const auth = authSink();
    const outbox = createAuditOutbox({ send: auth.send, log });
    outbox.add(event(1));
    expect(await outbox.close()).toBe(0);
    expect(names(auth.stored)).toEqual(['e1']);

    const away = authSink();
    away.down = true;
    const closing = createAuditOutbox({ send: away.send, log });
    closing.add(event(2));
    expect(await closing.close()).toBe(1);
    // Nothing is tried after close.
    const calls = away.calls;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(away.calls).toBe(calls);
  });
});
