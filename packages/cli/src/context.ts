// What every command gets from the entry point: environment, the ztsh home,
// and where to write. Commands never read process.env themselves.
import { X509Certificate } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ApiClient } from './http.ts';
import { CliError } from './cli-error.ts';
import { ZtshHome } from './home.ts';
import { parseProxy } from './proxy-address.ts';

export { parseProxy };

export interface CliContext {
  env: Record<string, string | undefined>;
  home: ZtshHome;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTty: boolean;
}

export function defaultContext(env: Record<string, string | undefined>): CliContext {
  return {
    env,
    home: new ZtshHome(env.ZTSH_HOME ?? join(homedir(), '.ztsh')),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTty: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  };
}

/** The proxy a command talks to: --proxy, else the current profile's. */
export function resolveProxy(ctx: CliContext, flag: string | undefined): URL {
  if (flag) return parseProxy(flag);
  const current = ctx.home.currentProxy();
  if (!current) throw new CliError('no proxy given and not logged in anywhere', 'run ztsh login --proxy https://access.example.com', 2);
  return current;
}

export function apiFor(ctx: CliContext, proxy: URL, caFile?: string, client?: { cert: string; key: string }): ApiClient {
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch {
      throw new CliError(`cannot read --ca-file ${caFile}`, undefined, 2);
    }
  } else {
    ca = ctx.home.readTrust(proxy);
  }
  return new ApiClient({ proxy, ca, client });
}

/** The stored login for this proxy; refuses when there is none or its certificate has expired. */
export function loggedIn(ctx: CliContext, proxy: URL) {
  const profile = ctx.home.readProfile(proxy);
  if (!profile) throw new CliError(`not logged in to ${proxy.origin}`, `run ztsh login --proxy ${proxy.origin}`);
  if (new Date(new X509Certificate(profile.certPem).validTo).getTime() <= Date.now()) {
    throw new CliError(`your ztsh certificate for ${proxy.host} has expired: run ztsh login`, `ztsh login --proxy ${proxy.origin}`);
  }
  return profile;
}

/** An API client that presents the user's certificate (clusters, the auditor and admin APIs). */
export async function withUserApi<T>(ctx: CliContext, proxyFlag: string | undefined, fn: (api: ApiClient) => Promise<T>): Promise<T> {
  const proxy = resolveProxy(ctx, proxyFlag);
  const profile = loggedIn(ctx, proxy);
  const api = apiFor(ctx, proxy, undefined, { cert: profile.certPem, key: profile.keyPem });
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}
