// The direct tunnel's upgrade (Upgrade: ztsh-tunnel-h2, then HTTP/2 on the
// TLS socket itself) as an attacker uses it: without a host certificate,
// with bytes sent before the 101, with HTTP/1.1 or garbage where HTTP/2 is
// expected, and with a frame over HTTP/2's size limit after a valid preface.
// Each ends only that tunnel, is audited where the proxy judged it, and
// leaves ztshd serving the other clusters.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { rawRequest } from './helpers/raw-client.ts';
import { joinRogueAgent, openRogueDirect } from './helpers/rogue-agent.ts';

let k: KubeEnv;

beforeAll(async () => {
  k = await startKubeEnv();
});
afterAll(() => k?.close());

const audited = (type: 'tunnel.refused' | 'tunnel.closed', cluster?: string) => k.stack.ztshd.auth.storage.audit.search({ type, ...(cluster ? { cluster } : {}), limit: 100 });
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

async function othersStillServed(): Promise<void> {
  const sandbox = await rawRequest(k.stack, { path: '/k8s/sandbox/api/v1/namespaces/default/pods', as: k.alice });
  expect(sandbox.status).toBe(200);
}

/** A user's request to `cluster` gets a kube Status, never a hang. */
async function answeredWithStatus(cluster: string): Promise<void> {
  const answer = await rawRequest(k.stack, { path: `/k8s/${cluster}/api/v1/namespaces/default/pods`, as: k.alice });
  expect([502, 503]).toContain(answer.status);
  expect(answer.json()).toMatchObject({ kind: 'Status', status: 'Failure', code: answer.status });
}

it('an upgrade without a host certificate, or with a user\'s, is refused 401 and audited', async () => {
  const before = (await audited('tunnel.refused')).length;
  expect((await openRogueDirect(k, undefined, { env: 'sandbox' })).status).toBe(401);
  expect((await openRogueDirect(k, { cert: k.alice.cert, key: k.alice.key } as never, { env: 'sandbox' })).status).toBe(401);
  const refused = await audited('tunnel.refused');
  expect(refused.length).toBe(before + 2);
  // Newest first: alice's certificate is no host certificate (another CA's), then none at all.
  expect(refused.slice(0, 2).map((e) => [e.success, e.fields?.reason])).toEqual([[false, expect.stringMatching(/^(untrusted|not_an_agent)$/)], [false, 'no_certificate']]);
  await othersStillServed();
});

it('bytes sent before the 101 are refused 400 and audited, and nothing is registered', async () => {
  const identity = await joinRogueAgent(k, 'early');
  const answer = await openRogueDirect(k, identity, { env: 'sandbox' }, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), EMPTY_SETTINGS]));
  expect(answer.status).toBe(400);
  expect(await audited('tunnel.refused', 'early')).toMatchObject([{ success: false, fields: { reason: 'early_bytes', status: 400 } }]);
  expect(k.stack.ztshd.proxy.tunnels.get('early')).toBeUndefined();
  await othersStillServed();
});

it('HTTP/1.1 bytes after the 101 where HTTP/2 is expected end that tunnel, audited as not HTTP/2', async () => {
  const identity = await joinRogueAgent(k, 'http1');
  const { status, tunnel } = await openRogueDirect(k, identity, { env: 'sandbox' });
  expect(status).toBe(101);
  tunnel!.socket.write('GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: agent\r\n\r\n');
  await tunnel!.closed;
  expect(await audited('tunnel.closed', 'http1')).toMatchObject([{ success: false, code: 'ZA1306W', fields: { cluster: 'http1', reason: 'not_http2', transport: 'direct' } }]);
  expect(k.stack.ztshd.proxy.tunnels.get('http1')).toBeUndefined();
  await answeredWithStatus('http1');
  await othersStillServed();
});

it('random bytes after the 101 end that tunnel, audited as not HTTP/2', async () => {
  const identity = await joinRogueAgent(k, 'garbage');
  const { tunnel } = await openRogueDirect(k, identity, { env: 'sandbox' });
  // A first frame of type 0 (DATA) on stream 1: no SETTINGS.
  tunnel!.socket.write(Buffer.from([0, 0, 4, 0, 0, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]));
  await tunnel!.closed;
  expect(await audited('tunnel.closed', 'garbage')).toMatchObject([{ fields: { reason: 'not_http2', transport: 'direct' } }]);
  await answeredWithStatus('garbage');
  await othersStillServed();
});

it('a valid preface, then a frame over the size limit, ends that tunnel; a request to its cluster gets a Status', async () => {
  const identity = await joinRogueAgent(k, 'oversized');
  const { tunnel } = await openRogueDirect(k, identity, { env: 'sandbox' });
  tunnel!.socket.write(EMPTY_SETTINGS);
  // Ack the proxy's SETTINGS as an agent would, then a DATA frame header of 16 MiB - 1 on stream 0.
  tunnel!.socket.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]));
  tunnel!.socket.write(Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]));
  tunnel!.socket.resume();
  // Node 24 fails the session at once; Node 20's nghttp2 sends GOAWAY and waits, and the proxy's unanswered ping ends the tunnel.
  await answeredWithStatus('oversized');
  await tunnel!.closed;
  expect(k.stack.ztshd.proxy.tunnels.get('oversized')).toBeUndefined();
  const closed = await audited('tunnel.closed', 'oversized');
  if (Number(process.versions.node.split('.')[0]) >= 24) expect(closed).toMatchObject([{ fields: { reason: 'http2_error', transport: 'direct' } }]);
  else expect(closed.length).toBeLessThanOrEqual(1);
  await othersStillServed();
}, 120_000);
