// Talks to the proxy's API over HTTPS. Trust: --ca-file, else the CA pinned
// for this proxy under $ZTSH_HOME/trust, plus the system's roots. Network and
// TLS failures become one clear line with a hint.
import { rootCertificates } from 'node:tls';
import { Agent, fetch } from 'undici';
import { isErrorCode } from '@ztsh/protocol';
import type { z } from 'zod';
import { CliError } from './cli-error.ts';

export interface ApiOptions {
  proxy: URL;
  /** Extra CA PEMs to trust for the proxy's TLS certificate. */
  ca?: string | undefined;
  /** The user's certificate and key, for the proxy's mutual-TLS APIs. */
  client?: { cert: string; key: string } | undefined;
  timeoutMs?: number;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

function networkError(error: unknown, proxy: URL): CliError {
  let cause: unknown = error;
  while (cause && typeof cause === 'object' && !(cause as { code?: string }).code && (cause as Error).cause) {
    cause = (cause as Error).cause;
  }
  const code = (cause as { code?: string })?.code ?? '';
  if (TLS_CODES.has(code)) {
    return new CliError(
      `the TLS certificate of ${proxy.host} is not trusted (${code})`,
      `if this is your own test proxy, pass --ca-file with the CA that signed it; ztshd dev writes it to <data dir>/tls/ca.crt`,
    );
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new CliError(`cannot reach the proxy at ${proxy.origin} (${code})`, 'check the --proxy address and that ztshd is running');
  }
  if ((error as Error)?.name === 'TimeoutError' || (error as Error)?.name === 'AbortError') {
    return new CliError(`the proxy at ${proxy.origin} did not answer in time`, 'check the network and that ztshd is healthy');
  }
  return new CliError(`request to ${proxy.origin} failed: ${(cause as Error)?.message ?? String(cause)}`, 'run again with ZTSH_DEBUG=1 for details');
}

export class ApiClient {
  readonly #dispatcher: Agent;
  constructor(readonly options: ApiOptions) {
    this.#dispatcher = new Agent({
      connect: {
        ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}),
        ...(options.client ? { cert: options.client.cert, key: options.client.key } : {}),
      },
    });
  }

  /** A GET whose body the caller reads itself (recordings, live exports); errors are thrown as for call(). */
  async raw(path: string, options: { timeoutMs?: number | null } = {}): Promise<Response> {
    let res;
    try {
      res = await fetch(new URL(path, this.options.proxy), {
        dispatcher: this.#dispatcher,
        ...(options.timeoutMs === null ? {} : { signal: AbortSignal.timeout(options.timeoutMs ?? this.options.timeoutMs ?? 30_000) }),
      });
    } catch (error) {
      throw networkError(error, this.options.proxy);
    }
    if (!res.ok) {
      let error: { code?: string; message?: string; hint?: string } | undefined;
      try {
        error = ((await res.json()) as { error?: typeof error }).error;
      } catch {
        error = undefined;
      }
      throw new CliError(error?.message ?? `the proxy answered ${res.status}`, error?.hint, 1, isErrorCode(error?.code) ? error.code : 'internal');
    }
    return res as unknown as Response;
  }

  async call<T extends z.ZodType>(method: 'GET' | 'POST' | 'DELETE', path: string, schema: T, body?: unknown): Promise<z.infer<T>> {
    let res;
    try {
      res = await fetch(new URL(path, this.options.proxy), {
        method,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        dispatcher: this.#dispatcher,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw networkError(error, this.options.proxy);
    }
    const text = await res.text();
    if (res.status === 204) return schema.parse(undefined);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(`the proxy answered ${res.status} with something that is not JSON`, `is ${this.options.proxy.origin} really a ztsh proxy?`);
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string; hint?: string } }).error;
      const code = isErrorCode(error?.code) ? error.code : 'internal';
      throw new CliError(error?.message ?? `the proxy answered ${res.status}`, error?.hint, 1, code);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new CliError('the proxy sent an answer this ztsh does not understand', 'update ztsh to the version of the proxy');
    return parsed.data;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
