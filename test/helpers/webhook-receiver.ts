// A real webhook receiver for the access-request notification tests: an
// HTTP (or HTTPS) server on 127.0.0.1:0 that checks each delivery the way
// docs/configuration.md tells receivers to, and answers as the test says.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { verifyWebhookSignature, type AccessRequestInfo, type WebhookVerdict } from '@ztsh/protocol';

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  body: string;
  verdict: WebhookVerdict;
  /** The receiver's answer to this try (0 until it is given, or when it never is). */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  deliveries: ReceivedDelivery[];
  /** Resolves once this many tries have come in. */
  received(count: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  secret: string;
  /** How to answer the n-th try (from 0); default 204. `hang` never answers. */
  answer?: (n: number, res: ServerResponse) => number | 'hang' | Promise<number | 'hang'>;
  tls?: { cert: string; key: string };
  /** The receiver's clock, unix seconds. */
  nowSec?: () => number;
  path?: string;
}

export async function startWebhookReceiver(options: ReceiverOptions): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  const waiters: { count: number; done: (d: ReceivedDelivery[]) => void }[] = [];
  const hanging: ServerResponse[] = [];
  let n = 0;
  const handler = (req: import('node:http').IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const verdict = verifyWebhookSignature({
          secret: options.secret,
          header: req.headers['x-ztsh-signature'] as string | undefined,
          body,
          nowSec: options.nowSec ? options.nowSec() : Math.floor(Date.now() / 1000),
        });
        const delivery: ReceivedDelivery = { headers: req.headers, body: body.toString('utf8'), verdict, status: 0 };
        deliveries.push(delivery);
        for (const w of waiters.filter((w) => deliveries.length >= w.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done(deliveries.slice());
        }
        const answer = await (options.answer ?? (() => 204))(n++, res);
        delivery.status = answer === 'hang' ? 0 : answer;
        if (answer === 'hang') {
          hanging.push(res);
          return;
        }
        if (!res.headersSent) res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
      })();
    });
  };
  const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}${options.path ?? '/hooks/ztsh'}`,
    deliveries,
    received: (count) =>
      deliveries.length >= count ? Promise.resolve(deliveries.slice()) : new Promise((done) => waiters.push({ count, done })),
    close: async () => {
      hanging.forEach((r) => r.destroy());
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** An access request as the API shows it, for notifications. */
export function sampleRequest(overrides: Partial<AccessRequestInfo> = {}): AccessRequestInfo {
  return {
    id: 'Xq3vT9kLmN2pQrS4tUvw1A',
    user: 'alice',
    roles: ['prod-admin'],
    resources: [],
    reason: 'INC-42: web-1 crash loop',
    state: 'pending',
    createdAt: '2026-11-30T13:00:00.000Z',
    pendingUntil: '2026-11-30T14:00:00.000Z',
    durationMs: 3_600_000,
    accessUntil: null,
    thresholds: { approve: 1, deny: 1 },
    suggestedReviewers: ['bob'],
    reviews: [],
    reviewable: false,
    ...overrides,
  };
}

/** A logger whose lines the test reads. */
export function capturedLog(): { log: pino.Logger; lines: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { log: pino({ level: 'trace' }, sink), lines: () => text };
}
