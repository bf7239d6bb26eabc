// ztshd's operations endpoints (/healthz, /readyz, /metrics; see
// @ztsh/protocol ops-http.ts) and where they are served:
//
//   main HTTPS listener   /healthz and /readyz always (what the probes use);
//                         /metrics only with metrics.token and no metrics.listen,
//                         for that bearer token
//   metrics.listen        all three, plain HTTP on an address of its own;
//                         /metrics behind the token when one is set (and then
//                         only there)
//
// Metrics are off unless the config has a metrics section, and never public
// by default: either an address the operator chose or a token.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { resolveSecret, type SecretContext } from '@ztsh/auth';
import { listenOps, opsEndpoints, splitListen, ZtshError, type OpsListener } from '@ztsh/protocol';
import type { ZtshdConfig } from './config.ts';

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

/** A token shorter than this is refused at start: /metrics may sit on the public listener. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export interface ZtshdOps {
  /** Where this ztshd's metrics are registered; undefined when metrics are off. */
  registry: Registry | undefined;
  /** The operations listener (metrics.listen), when there is one. */
  url: URL | undefined;
  /** The main listener's handler with /healthz, /readyz (and /metrics with a token) in front of it. */
  wrap<H extends Handler>(next: H): H;
  /** What /readyz answers from now on: undefined when ready, else a short reason. */
  ready(check: () => string | undefined): void;
  close(): Promise<void>;
}

export async function startOps(config: ZtshdConfig['metrics'], secrets: SecretContext, log: Logger): Promise<ZtshdOps> {
  let check: () => string | undefined = () => 'starting';
  let closing = false;
  const notReady = () => (closing ? 'shutting down' : check());
  let registry: Registry | undefined;
  let token: string | undefined;
  if (config) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
    if (config.token !== undefined) {
      token = resolveSecret(config.token, 'metrics.token', secrets);
      if (token.length < MIN_METRICS_TOKEN_LENGTH) {
        throw new ZtshError('invalid_config', `metrics.token: must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`, {
          hint: 'make one with: openssl rand -hex 32',
        });
      }
    }
  }
  // With a listener of its own, /metrics stays off the public listener, token or not.
  const onMain = token !== undefined && !config?.listen;
  const main = opsEndpoints({ notReady, metrics: onMain ? registry : undefined, token });
  let listener: OpsListener | undefined;
  if (config?.listen) {
    const { host, port } = splitListen(config.listen);
    try {
      listener = await listenOps(host, port, opsEndpoints({ notReady, metrics: registry, token }));
    } catch (cause) {
      throw new ZtshError('invalid_config', `metrics.listen: cannot listen on ${config.listen}: ${(cause as Error).message}`, { cause, hint: 'pick a free port, or remove metrics.listen' });
    }
    log.info({ listen: `${host}:${listener.url.port}`, token: token !== undefined }, 'ztshd metrics listening');
  }
  return {
    registry,
    url: listener?.url,
    wrap: <H extends Handler>(next: H) =>
      ((req, res) => {
        if (!main(req, res)) next(req, res);
      }) as H,
    ready: (c) => {
      check = c;
    },
    close: async () => {
      closing = true;
      await listener?.close();
    },
  };
}
