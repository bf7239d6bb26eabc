// Item 4 as a property: a joined agent that sends, on its own tunnel,
// random binary messages, a valid HTTP/2 preface and then garbage, frames
// cut across messages, a message over the proxy's maxPayload, text
// messages (valid and invalid UTF-8), fragments, or a message and at once a
// close. After each: ztshd is up, another cluster answers alice, a request
// to the fuzzed cluster gets a kube Status (502 or 503) rather than hanging,
// and the tunnel is closed with the close code the fault calls for and
// audited (tunnel.closed) where the proxy found the fault.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TUNNEL_MAX_PAYLOAD } from '@ztsh/protocol';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest } from './helpers/raw-client.ts';
import { joinRogueAgent, openRogueTunnel, type RogueTunnel } from './helpers/rogue-agent.ts';

let k: KubeEnv;
let rogue: Awaited<ReturnType<typeof joinRogueAgent>>;

beforeAll(async () => {
  k = await startKubeEnv();
  await k.addAgent('other', { env: 'sandbox' });
  rogue = await joinRogueAgent(k, 'fuzzed');
});
afterAll(() => k?.close());

/** What the rogue agent does, and what the proxy must make of it. */
interface Case {
  name: string;
  act(tunnel: RogueTunnel): Promise<void> | void;
  /** The close code and audited reason; undefined where the agent closes first or says too little to judge. */
  expect?: { code: number; reason: string } | undefined;
}

const settingsFrame = (settings: { id: number; value: number }[]) => {
  const frame = Buffer.alloc(9 + settings.length * 6);
  frame.writeUIntBE(settings.length * 6, 0, 3);
  frame[3] = 0x4;
  settings.forEach((s, i) => {
    frame.writeUInt16BE(s.id, 9 + i * 6);
    frame.writeUInt32BE(s.value, 11 + i * 6);
  });
  return frame;
};

/** Cuts bytes into 1..n messages at random points: frames arrive truncated and joined. */
const cutInto = (bytes: Buffer, cuts: number[]) => {
  const points = [...new Set(cuts.map((c) => c % bytes.length))].filter((p) => p > 0).sort((a, b) => a - b);
  return [...points, bytes.length].map((to, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1], to));
};

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const send = (t: RogueTunnel, messages: Buffer[]) => messages.forEach((m) => t.ws.send(m, { binary: true }));

/** Binary messages whose bytes cannot start an HTTP/2 server preface (the first frame is no SETTINGS). */
const randomBinary = fc
  .tuple(bytes(9, 4096), fc.array(fc.nat(), { maxLength: 6 }))
  .filter(([b]) => b[3] !== 0x4)
  .map(([b, cuts]): Case => ({ name: `random binary, ${b.length} bytes`, act: (t) => send(t, cutInto(b, cuts)), expect: { code: 1002, reason: 'not_http2' } }));

/**
 * A valid SETTINGS frame, then a frame header longer than any frame may be
 * (nghttp2 ends the session at once; a well-formed frame of an unknown type
 * is ignored as HTTP/2 says), then random bytes; all cut at random points.
 */
const prefaceThenGarbage = fc
  .tuple(
    fc.array(fc.record({ id: fc.constantFrom(0x1, 0x3, 0x4, 0x6), value: fc.integer({ min: 0, max: 0x7fffffff }) }), { maxLength: 4 }),
    fc.integer({ min: 1, max: 255 }),
    bytes(8, 2048),
    fc.array(fc.nat(), { maxLength: 6 }),
  )
  .map(([settings, lengthHigh, tail, cuts]): Case => {
    const all = Buffer.concat([settingsFrame(settings), Buffer.from([lengthHigh]), tail]);
    return { name: `a valid preface, then garbage (${all.length} bytes)`, act: (t) => send(t, cutInto(all, cuts)), expect: { code: 1002, reason: 'http2_error' } };
  });

const textMessage = fc.string({ minLength: 1, maxLength: 512 }).map((s): Case => ({ name: 'a text message', act: (t) => t.ws.send(s), expect: { code: 1003, reason: 'text_message' } }));

const invalidUtf8Text = bytes(1, 64).map((b): Case => ({
  name: 'a text message that is not UTF-8',
  act: (t) => t.ws.send(Buffer.concat([b, Buffer.from([0xc3, 0x28])]), { binary: false }),
  expect: { code: 1007, reason: 'invalid_utf8' },
}));

const fragmented = fc.tuple(bytes(9, 512), bytes(1, 512)).filter(([a]) => a[3] !== 0x4).map(([a, b]): Case => ({
  name: 'one binary message in fragments',
  act: (t) => {
    t.ws.send(a, { binary: true, fin: false });
    t.ws.send(b, { binary: true, fin: true });
  },
  expect: { code: 1002, reason: 'not_http2' },
}));

const messageThenClose = bytes(9, 1024).filter((b) => b[3] !== 0x4).map((b): Case => ({
  name: 'a message, then at once a close',
  act: (t) => {
    t.ws.send(b);
    t.ws.close();
  },
}));

const truncatedThenClose = fc.integer({ min: 1, max: 8 }).map((n): Case => ({
  name: `${n} bytes of a SETTINGS frame header, then a close`,
  act: (t) => {
    t.ws.send(settingsFrame([{ id: 0x4, value: 1 }]).subarray(0, n));
    t.ws.close();
  },
}));

/** Over maxPayload: ws refuses it as it comes in and the tunnel ends with 1009. */
const oversized: Case = {
  name: `a message of ${TUNNEL_MAX_PAYLOAD + 1} bytes`,
  act: (t) => t.ws.send(Buffer.alloc(TUNNEL_MAX_PAYLOAD + 1, 0x41)),
  expect: { code: 1009, reason: 'message_too_big' },
};
const oversizedInFragments: Case = {
  name: `a message of ${TUNNEL_MAX_PAYLOAD + 1} bytes in fragments`,
  act: (t) => {
    t.ws.send(Buffer.alloc(TUNNEL_MAX_PAYLOAD / 2, 0x42), { binary: true, fin: false });
    t.ws.send(Buffer.alloc(TUNNEL_MAX_PAYLOAD / 2 + 1, 0x42), { binary: true, fin: true });
  },
  expect: { code: 1009, reason: 'message_too_big' },
};

const anyCase = fc.oneof(
  { weight: 4, arbitrary: randomBinary },
  { weight: 4, arbitrary: prefaceThenGarbage },
  { weight: 1, arbitrary: textMessage },
  { weight: 1, arbitrary: invalidUtf8Text },
  { weight: 1, arbitrary: fragmented },
  { weight: 1, arbitrary: messageThenClose },
  { weight: 1, arbitrary: truncatedThenClose },
);

const auditedClosures = () => k.stack.ztshd.auth.storage.audit.search({ type: 'tunnel.closed', cluster: 'fuzzed', limit: 1000 });

async function runCase(c: Case): Promise<void> {
  const before = (await auditedClosures()).length;
  const tunnel = await openRogueTunnel(k, rogue, { env: 'sandbox' });
  await c.act(tunnel);

  // A user request to the fuzzed cluster: a Status, never a hang.
  const answer = await rawRequest(k.stack, { path: '/k8s/fuzzed/api/v1/namespaces/default/pods', as: k.alice });
  expect([502, 503], c.name).toContain(answer.status);
  expect(answer.json(), c.name).toMatchObject({ kind: 'Status', status: 'Failure', code: answer.status });

  // The bad tunnel is closed, with the code its fault calls for, and audited.
  const closed = await tunnel.closed;
  const audited = await auditedClosures();
  if (c.expect) {
    expect(closed.code, c.name).toBe(c.expect.code);
    expect(audited.length, c.name).toBe(before + 1);
    expect(audited[0], c.name).toMatchObject({ success: false, code: 'ZA1306W', fields: { cluster: 'fuzzed', reason: c.expect.reason, closeCode: c.expect.code } });
  } else {
    expect(audited.length - before, c.name).toBeLessThanOrEqual(1);
  }
  expect(k.stack.ztshd.proxy.tunnels.get('fuzzed'), c.name).toBeUndefined();

  // ztshd is up and another cluster still works for alice.
  const other = await rawRequest(k.stack, { path: '/k8s/other/api/v1/namespaces/default/pods', as: k.alice });
  expect(other.status, c.name).toBe(200);
}

it('item 4: whatever an agent sends on its tunnel ends only that tunnel, closed and audited', async () => {
  // The large messages once each (16 MiB apiece), then a fixed number of generated cases.
  await runCase(oversized);
  await runCase(oversizedInFragments);
  await fc.assert(fc.asyncProperty(anyCase, runCase), { numRuns: 40 });
  // After all of it, a real agent of the fuzzed cluster connects and serves alice.
  await k.addAgent('fuzzed', { env: 'sandbox' });
  const served = await rawRequest(k.stack, { path: '/k8s/fuzzed/api/v1/namespaces/default/pods', as: k.alice });
  expect(served.status).toBe(200);
});
