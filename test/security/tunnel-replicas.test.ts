// The replica surface of the tunnel, abused from both ends: an agent that
// sends garbage in x-ztsh-replicas-held, and a proxy that lies to the agent
// in its upgrade answer or in a replica-set announcement. Each is refused
// without harming the tunnel, the proxy or the agent, and an announcement
// never reaches the apiserver, whatever it carries.
import { connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocket, WebSocketServer } from 'ws';
import { startAgent, type RunningAgent } from '@ztsh/agent';
import { MAX_REPLICAS, TUNNEL_HEADERS } from '@ztsh/protocol';
import { startReplicaWorld, type ReplicaWorld } from '../helpers/replica-proxies.ts';

let world: ReplicaWorld;
let stateDir: string;

beforeAll(async () => {
  world = await startReplicaWorld(['r1']);
  stateDir = world.agentStateDir('sandbox');
});

afterAll(async () => {
  await world?.close();
});

/** Dials replica r1's tunnel endpoint as the agent would, with these headers; the status it answers and its headers. */
function dialR1(headers: Record<string, string | string[]>, withCert = true): Promise<{ status: number; headers: Record<string, unknown>; ws?: WebSocket }> {
  const ws = new WebSocket(`wss://localhost:${world.replicas[0]!.port}/v1/tunnel`, {
    ca: world.tls.caCert,
    ...(withCert ? { cert: readFileSync(join(stateDir, 'agent.crt'), 'utf8'), key: readFileSync(join(stateDir, 'agent.key'), 'utf8') } : {}),
    headers,
  });
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      ws.terminate();
    });
    ws.on('upgrade', (res) => resolve({ status: 101, headers: res.headers, ws }));
    ws.on('error', () => undefined);
  });
}

describe('x-ztsh-replicas-held from an agent', () => {
  const many = Array.from({ length: MAX_REPLICAS + 1 }, (_, i) => `r${i + 2}`).join(',');
  const bad: [string, string | string[]][] = [
    ['uppercase', 'R1'],
    ['an empty entry', 'r2,,r3'],
    ['a space', 'r2, r3'],
    ['a repeated id', 'r2,r2'],
    ['a trailing comma', 'r2,'],
    ['too many ids', many],
    ['an oversized value', 'a'.repeat(10_000)],
    ['a repeated header', ['r2', 'r3']],
    ['a path', '../r1'],
    ['JSON', '["r1"]'],
  ];
  for (const [what, value] of bad) {
    it(`is refused with 400 and audited when it holds ${what}`, async () => {
      const before = world.auth.events.length;
      const answer = await dialR1({ [TUNNEL_HEADERS.replicasHeld]: value });
      expect(answer.status).toBe(400);
      expect(answer.headers[TUNNEL_HEADERS.replicaId]).toBeUndefined();
      expect(world.auth.events.slice(before)).toMatchObject([{ type: 'tunnel.refused', success: false, input: { fields: { reason: 'bad_replicas_held', status: 400 } } }]);
      expect(world.replicas[0]!.proxy.tunnels.get('sandbox')).toBeUndefined();
    });
  }

  it('no stranger learns the replica id: without a host certificate the answer is 401 and names none', async () => {
    const answer = await dialR1({ [TUNNEL_HEADERS.replicasHeld]: 'r1' }, false);
    expect(answer.status).toBe(401);
    expect(answer.headers[TUNNEL_HEADERS.replicaId]).toBeUndefined();
  });

  it('naming this replica gets 409 with its id and registers nothing; a good dial after all that is served', async () => {
    const duplicate = await dialR1({ [TUNNEL_HEADERS.replicasHeld]: 'r0,r1' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers[TUNNEL_HEADERS.replicaId]).toBe('r1');
    expect(world.replicas[0]!.proxy.tunnels.get('sandbox')).toBeUndefined();

    const good = await dialR1({ [TUNNEL_HEADERS.replicasHeld]: 'r0' });
    expect(good.status).toBe(101);
    expect(good.headers).toMatchObject({ [TUNNEL_HEADERS.replicaId]: 'r1', [TUNNEL_HEADERS.replicas]: 'r1' });
    expect(world.replicas[0]!.proxy.tunnels.get('sandbox')).toBeDefined();
    good.ws!.terminate();
  });
});

/**
 * A proxy that lies: it answers the agent's upgrade with the headers the
 * test sets, then speaks HTTP/2 to the agent as the proxy does.
 */
interface Rogue {
  url: URL;
  /** The 101's replica headers for the next dial. */
  answer: Record<string, string>;
  /** The HTTP/2 session over the latest tunnel. */
  session(): Promise<ClientHttp2Session>;
  closes: number[];
  close(): Promise<void>;
}

async function startRogue(): Promise<Rogue> {
  const server: Server = createHttpsServer({ cert: world.tls.cert, key: world.tls.key });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const rogue: Rogue = { url: undefined as never, answer: { [TUNNEL_HEADERS.replicaId]: 'liar', [TUNNEL_HEADERS.replicas]: 'liar' }, session: undefined as never, closes: [], close: undefined as never };
  let sessions: ((s: ClientHttp2Session) => void)[] = [];
  let latest: ClientHttp2Session | undefined;
  wss.on('headers', (headers) => {
    for (const [name, value] of Object.entries(rogue.answer)) headers.push(`${name}: ${value}`);
  });
  wss.on('connection', (ws) => {
    ws.on('close', (code) => rogue.closes.push(code));
    const session = connect('http://agent.invalid', { createConnection: () => createWebSocketStream(ws) });
    session.on('error', () => undefined);
    session.once('connect', () => {
      latest = session;
      sessions.forEach((resolve) => resolve(session));
      sessions = [];
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rogue.url = new URL(`https://localhost:${(server.address() as AddressInfo).port}`);
  rogue.session = () => (latest && !latest.destroyed ? Promise.resolve(latest) : new Promise((resolve) => sessions.push(resolve)));
  rogue.close = async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return rogue;
}

function ask(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let text = '';
    let status = 0;
    stream.on('response', (h) => (status = Number(h[constants.HTTP2_HEADER_STATUS])));
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve({ status, text }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

const announcement = (extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders => ({
  [constants.HTTP2_HEADER_METHOD]: 'POST',
  [constants.HTTP2_HEADER_PATH]: '/.ztsh/replicas',
  [TUNNEL_HEADERS.control]: 'replicas',
  [TUNNEL_HEADERS.replicaId]: 'liar',
  [TUNNEL_HEADERS.replicas]: 'liar,other',
  ...extra,
});

describe('a proxy that lies to the agent about replicas', () => {
  let rogue: Rogue;
  let agent: RunningAgent;

  beforeAll(async () => {
    rogue = await startRogue();
    agent = await startAgent({
      proxy: rogue.url,
      cluster: 'sandbox',
      labels: {},
      stateDir,
      token: () => undefined,
      proxyCa: world.tls.caCert,
      kube: { server: world.upstream.url, token: () => 'sa-token', ca: world.upstream.ca },
      log: pino({ level: 'silent' }),
      backoff: { baseMs: 10, maxMs: 50 },
      redial: { baseMs: 1000, maxMs: 1000 },
    });
    await agent.connected();
  });

  afterAll(async () => {
    await agent?.stop();
    await rogue?.close();
  });

  it('forged, oversized and garbage announcements get 400, reach no apiserver, and leave the tunnel serving', async () => {
    const session = await rogue.session();
    const seen = world.upstream.seen.length;
    const forged: [string, OutgoingHttpHeaders, string?][] = [
      ['a sender that is not the replica this tunnel reached', announcement({ [TUNNEL_HEADERS.replicaId]: 'other' })],
      ['a set without its sender', announcement({ [TUNNEL_HEADERS.replicas]: 'other' })],
      ['an oversized set', announcement({ [TUNNEL_HEADERS.replicas]: `liar,${'a'.repeat(9000)}` })],
      ['too many replicas', announcement({ [TUNNEL_HEADERS.replicas]: ['liar', ...Array.from({ length: MAX_REPLICAS }, (_, i) => `x${i}`)].join(',') })],
      ['garbage ids', announcement({ [TUNNEL_HEADERS.replicas]: 'liar,<script>' })],
      ['a repeated id', announcement({ [TUNNEL_HEADERS.replicas]: 'liar,liar' })],
      ['no set', announcement({ [TUNNEL_HEADERS.replicas]: '' })],
      ['a body', announcement(), '{"replicas":["evil"]}'],
      ['another control word', announcement({ [TUNNEL_HEADERS.control]: 'shutdown' })],
      ['GET', announcement({ [constants.HTTP2_HEADER_METHOD]: 'GET' })],
      ['a kube path with an identity to impersonate', announcement({ [constants.HTTP2_HEADER_PATH]: '/api/v1/secrets', [TUNNEL_HEADERS.impersonateUser]: 'system:admin' })],
    ];
    for (const [what, headers, body] of forged) {
      const answer = await ask(session, headers, body);
      expect(answer.status, what).toBe(400);
    }
    // None reached the apiserver, and the agent still wants only what it first heard.
    expect(world.upstream.seen.length).toBe(seen);
    expect(agent.replicas()).toEqual({ held: ['liar'], wanted: ['liar'] });

    // The same tunnel still serves kube requests.
    const kube = await ask(session, { [constants.HTTP2_HEADER_PATH]: '/api/v1/pods', [TUNNEL_HEADERS.impersonateUser]: 'alice' });
    expect(kube.status).toBe(200);
    expect(world.upstream.seen.at(-1)).toEqual({ path: '/api/v1/pods', user: 'alice' });

    // A well-formed announcement is taken: the agent now looks for "other" too.
    expect((await ask(session, announcement())).status).toBe(204);
    expect(agent.replicas().wanted).toEqual(['liar', 'other']);
    expect(world.upstream.seen.length).toBe(seen + 1);
  });

  it('an upgrade answer with garbage replica headers closes only that tunnel, and the agent dials again', async () => {
    rogue.answer = { [TUNNEL_HEADERS.replicaId]: 'LIAR!', [TUNNEL_HEADERS.replicas]: 'x'.repeat(9000) };
    const closes = rogue.closes.length;
    // Drop the agent's tunnel: it dials again and gets the garbage answer.
    const old = await rogue.session();
    old.destroy();
    await expect.poll(() => rogue.closes.slice(closes)).toContain(1002);
    expect(agent.isConnected()).toBe(false);

    // Once the proxy answers well, the agent is back.
    rogue.answer = { [TUNNEL_HEADERS.replicaId]: 'liar', [TUNNEL_HEADERS.replicas]: 'liar' };
    await agent.connected();
    const session = await rogue.session();
    const kube = await ask(session, { [constants.HTTP2_HEADER_PATH]: '/api/v1/after', [TUNNEL_HEADERS.impersonateUser]: 'alice' });
    expect(kube.status).toBe(200);
  });
});
