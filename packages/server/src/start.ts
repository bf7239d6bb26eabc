// Starts ztshd from a loaded config: the auth service behind one HTTPS
// listener at the public address.
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createAuthService, type AuthService, type Clock, type IdSource } from '@ztsh/auth';
import { createProxyServer, inProcessAuthClient, lateAuthClient, recoverSessions, type ProxyServer } from '@ztsh/proxy';
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
  proxy: ProxyServer;
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

  // The listener is up before the auth service exists (tests need the port
  // for the public URL); until then it answers 503.
  let app: ((req: never, res: never) => void) | undefined;
  let auth: AuthService | undefined;
  const late = lateAuthClient();
  const proxy = createProxyServer({
    tls,
    auth: late.client,
    fallback: (req, res) => {
      if (app) return app(req as never, res as never);
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: 'ztshd is starting' } }));
    },
    log,
  });
  const boundPort = await proxy.listen(port, host);
  const url = options.publicUrlFor ? options.publicUrlFor(boundPort) : configured;

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
    await proxy.close();
    throw error;
  }
  late.bind(inProcessAuthClient(auth));
  recoverSessions(late.client, log);
  app = auth.app.callback() as never;
  const started = auth;
  log.info({ listen: `${host}:${boundPort}`, publicUrl: url.toString() }, 'ztshd listening');

  return {
    url,
    port: boundPort,
    auth: started,
    tls,
    proxy,
    close: async () => {
      await proxy.close();
      started.close();
    },
  };
}
