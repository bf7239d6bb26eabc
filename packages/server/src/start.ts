// Starts ztshd from a loaded config: the auth service behind one HTTPS
// listener at the public address.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createAuthService, type AuthService, type Clock, type IdSource } from '@ztsh/auth';
import type { ZtshdConfig } from './config.ts';
import { servingTls, type ServingTls } from './tls.ts';

export interface StartOptions {
  config: ZtshdConfig;
  baseDir: string;
  env: Record<string, string | undefined>;
  log: Logger;
  clock?: Clock;
  ids?: IdSource;
  /** Overrides proxy.public_addr once the port is known (tests bind port 0). */
  publicUrlFor?: (port: number) => URL;
  /** Runs once the public URL is known, before auth starts; may adjust the config (the dev stack registers its IdP client here). */
  prepare?: (url: URL, config: ZtshdConfig) => Promise<ZtshdConfig>;
}

export interface RunningZtshd {
  url: URL;
  port: number;
  auth: AuthService;
  tls: ServingTls;
  server: Server;
  close(): Promise<void>;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}

export async function startZtshd(options: StartOptions): Promise<RunningZtshd> {
  const { log } = options;
  let config = options.config;
  const dataDir = resolve(options.baseDir, config.data_dir);
  const configured = new URL(config.proxy.public_addr);
  const tls = await servingTls({ files: config.proxy.tls, baseDir: options.baseDir, dataDir, hostname: configured.hostname });
  const { host, port } = splitHostPort(config.proxy.listen);

  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  const url = options.publicUrlFor ? options.publicUrlFor(boundPort) : configured;

  let auth: AuthService;
  try {
    if (options.prepare) config = await options.prepare(url, config);
    auth = await createAuthService({
      config: config.auth,
      dataDir: join(dataDir),
      publicUrl: url,
      log: log.child({ component: 'auth' }),
      secrets: { env: options.env, baseDir: options.baseDir },
      trustProxy: config.proxy.trust_proxy,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.ids ? { ids: options.ids } : {}),
    });
  } catch (error) {
    server.close();
    throw error;
  }
  server.on('request', auth.app.callback());
  log.info({ listen: `${host}:${boundPort}`, publicUrl: url.toString() }, 'ztshd listening');

  return {
    url,
    port: boundPort,
    auth,
    tls,
    server,
    close: async () => {
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
      auth.close();
    },
  };
}
