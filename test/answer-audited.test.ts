// Every answered kube request is in the audit log: the proxy ends an
// allowed answer only once its audit event is stored, so a replica killed
// right after answering has lost none. Headers and body bytes of streams
// (watch, logs -f) still go out at once. The store's audit writes are held
// at a gate here, the way a slow disk or a database across a network would.
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AuditEvent } from '@ztsh/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';

let k: KubeEnv;
/** The names of the pods in kube.request events the store was asked to write. */
const asked: string[] = [];
let gate: Promise<void> = Promise.resolve();
let openGate = () => {};

function closeGate(): void {
  gate = new Promise((resolve) => (openGate = resolve));
}

beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'held-1');
  const audit = k.stack.ztshd.auth.storage.audit;
  const appendMany = audit.appendMany.bind(audit);
  audit.appendMany = async (batch) => {
    for (const e of batch) if (e.type === 'kube.request' && typeof e.fields.name === 'string') asked.push(e.fields.name);
    await gate;
    return appendMany(batch);
  };
});
afterEach(() => openGate());
afterAll(() => k?.close());

/**
 * How long a held answer is watched for an end that must not come. Before
 * answers were held, the end came within milliseconds of the write being
 * asked for; this is the absence of an event, so there is no event to await.
 */
const NOT_ENDED_WINDOW_MS = 300;

async function storedFor(name: string): Promise<AuditEvent[]> {
  const events = await k.stack.ztshd.auth.storage.audit.search({ type: 'kube.request', user: 'alice', limit: 1000 });
  return events.filter((e) => e.fields.name === name);
}

describe('an allowed answer ends once its audit event is stored', () => {
  it('HTTP/1.1: the answer of a GET does not end while its event waits for the store', async () => {
    closeGate();
    let ended = false;
    const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: k.stack.url.port, servername: 'localhost', ca: k.stack.tlsCa, ...k.alice, agent: false, path: '/k8s/sandbox/api/v1/namespaces/default/pods/held-1' },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            ended = true;
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    await expect.poll(() => asked.includes('held-1')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, NOT_ENDED_WINDOW_MS));
    expect(ended).toBe(false);
    expect(await storedFor('held-1')).toHaveLength(0);
    openGate();
    const answer = await done;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ kind: 'Pod', metadata: { name: 'held-1' } });
    expect(await storedFor('held-1')).toHaveLength(1);
  });

  it('HTTP/2 (as kubectl speaks it): the stream ends only after the event is stored', async () => {
    asked.length = 0;
    const before = (await storedFor('held-1')).length;
    closeGate();
    const session = http2Connect(k.stack.url, { ca: k.stack.tlsCa, servername: 'localhost', ...k.alice });
    try {
      const stream = session.request({ ':path': '/k8s/sandbox/api/v1/namespaces/default/pods/held-1' });
      let ended = false;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      const done = new Promise<void>((resolve, reject) => {
        stream.on('end', () => {
          ended = true;
          resolve();
        });
        stream.on('error', reject);
      });
      await expect.poll(() => asked.includes('held-1')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, NOT_ENDED_WINDOW_MS));
      expect(ended).toBe(false);
      openGate();
      await done;
      expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ metadata: { name: 'held-1' } });
      expect(await storedFor('held-1')).toHaveLength(before + 1);
    } finally {
      session.close();
    }
  });

  it('a watch streams its headers and events while its event waits for the store', async () => {
    closeGate();
    const session = http2Connect(k.stack.url, { ca: k.stack.tlsCa, servername: 'localhost', ...k.alice });
    try {
      const stream = session.request({ ':path': '/k8s/sandbox/api/v1/namespaces/default/pods?watch=true' });
      const status = await new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
      expect(status).toBe(200);
      let text = '';
      stream.on('data', (c: Buffer) => (text += c.toString()));
      k.kube.addPod('default', 'held-2');
      await expect.poll(() => text).toContain('"name":"held-2"');
      stream.close();
    } finally {
      openGate();
      session.close();
    }
  });

  it('a refusal by the cluster (404) is held the same way, headers included', async () => {
    asked.length = 0;
    closeGate();
    let status = 0;
    const done = new Promise<void>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: k.stack.url.port, servername: 'localhost', ca: k.stack.tlsCa, ...k.alice, agent: false, path: '/k8s/sandbox/api/v1/namespaces/default/pods/no-such-pod' },
        (res) => {
          status = res.statusCode ?? 0;
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
    await expect.poll(() => asked.includes('no-such-pod')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, NOT_ENDED_WINDOW_MS));
    expect(status).toBe(0);
    openGate();
    await done;
    expect(status).toBe(404);
    expect(await storedFor('no-such-pod')).toHaveLength(1);
  });
});
