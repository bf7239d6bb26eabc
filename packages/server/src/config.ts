// ztsh.yaml: the server's one config file. Strict, versioned; every error
// names the key path.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AuthConfigSchema, parseConfig, SecretSource, StorageConfigSchema } from '@ztsh/auth';
import { REPLICA_ID, ZtshError } from '@ztsh/protocol';

const HostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:3080')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0 to 65535');

const TlsFiles = z.strictObject({ cert_file: z.string(), key_file: z.string() });
const HttpsUrl = z.url().refine((u) => u.startsWith('https://'), 'must be an https:// URL');

export const ProxyConfigSchema = z.strictObject({
  /** Address to bind. */
  listen: HostPort.default('0.0.0.0:3080'),
  /** The one address users, browsers and agents know. */
  public_addr: HttpsUrl,
  /** Serving certificate; without it ztshd makes a self-signed one in data_dir/tls. */
  tls: TlsFiles.optional(),
  /** Trust X-Forwarded-For / -Proto / -Host from an L7 load balancer in front; only the hop it appended counts. */
  trust_proxy: z.boolean().default(false),
  /** A proxy run apart from auth (services: [proxy]): where the auth service listens. */
  auth_server: HttpsUrl.optional(),
  /** PEM CA bundle trusted for auth_server's TLS certificate, when it is not publicly trusted; relative to the config file. */
  auth_ca_file: z.string().optional(),
  /** A proxy run apart from auth: the token (ztshd tokens add --type proxy) it joins with the first time. */
  join_token: SecretSource.optional(),
  /** This replica's id, told to agents; default: the host name and random bits, new at each start. */
  replica_id: z.string().regex(REPLICA_ID, 'must be lowercase letters, digits, "." and "-", at most 63, starting with a letter or digit').optional(),
});

/** Prometheus metrics and the probes' listener; off unless configured, never public by default. */
export const MetricsConfigSchema = z
  .strictObject({
    /** An operations listener of its own (plain HTTP: /metrics, /healthz, /readyz); keep it off public networks. */
    listen: HostPort.optional(),
    /** Bearer token for /metrics: without `listen`, /metrics is served on the main listener for this token; with it, the token is required there. */
    token: SecretSource.optional(),
  })
  .refine((m) => m.listen !== undefined || m.token !== undefined, 'give listen (an address of its own), token (on the main listener), or both');

export const AuthServerConfigSchema = AuthConfigSchema.extend({
  /** Auth run apart from the proxy (services: [auth]): the address proxies connect to. */
  listen: HostPort.optional(),
  /** Auth run apart: the proxies' public address, which users know (login URLs, OIDC redirect, WebAuthn origin). */
  public_addr: HttpsUrl.optional(),
  /** Auth run apart: its serving certificate for proxies; without it, a self-signed one in data_dir/tls. */
  tls: TlsFiles.optional(),
});

const SERVICES = ['auth', 'proxy'] as const;

export const ZtshdConfigSchema = z
  .strictObject({
    version: z.literal('v1'),
    /** What this ztshd runs: both (the default), or one of them alone. */
    services: z
      .array(z.enum(SERVICES))
      .min(1, 'name at least one of auth, proxy')
      .refine((list) => new Set(list).size === list.length, 'each service once')
      .default(['auth', 'proxy']),
    /** Where the database, CA keys and the self-signed TLS pair live; relative to the config file. */
    data_dir: z.string().default('./data'),
    log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    /** Where auth keeps its state: SQLite in data_dir (the default) or PostgreSQL, shared by replicas. */
    storage: StorageConfigSchema.optional(),
    proxy: ProxyConfigSchema.optional(),
    auth: AuthServerConfigSchema.optional(),
    metrics: MetricsConfigSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const runs = new Set(config.services);
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (runs.has('proxy') && !config.proxy) issue(['proxy'], 'required when services include proxy');
    if (runs.has('auth') && !config.auth) issue(['auth'], 'required when services include auth');
    if (!runs.has('proxy') && config.proxy) issue(['proxy'], 'this ztshd runs no proxy (services: [auth]): remove this section');
    if (!runs.has('auth') && config.auth) issue(['auth'], 'this ztshd runs no auth service (services: [proxy]): remove this section');
    const alone = runs.size === 1;
    if (config.proxy) {
      const remote = { auth_server: config.proxy.auth_server, auth_ca_file: config.proxy.auth_ca_file, join_token: config.proxy.join_token };
      if (alone && !remote.auth_server) issue(['proxy', 'auth_server'], 'required when the proxy runs alone (services: [proxy])');
      if (!alone) {
        for (const [key, value] of Object.entries(remote)) {
          if (value !== undefined) issue(['proxy', key], 'only for a proxy run alone (services: [proxy]); this one runs with auth');
        }
      }
    }
    if (config.auth) {
      if (alone && !config.auth.public_addr) issue(['auth', 'public_addr'], "required when auth runs alone (services: [auth]): the proxies' public address");
      if (!alone) {
        for (const key of ['listen', 'public_addr', 'tls'] as const) {
          if (config.auth[key] !== undefined) issue(['auth', key], `only for auth run alone (services: [auth]); this one uses proxy.${key === 'tls' ? 'tls' : key}`);
        }
      }
    }
  });
export type ZtshdConfig = z.infer<typeof ZtshdConfigSchema>;
export type ZtshdConfigInput = z.input<typeof ZtshdConfigSchema>;

export interface LoadedConfig {
  config: ZtshdConfig;
  path: string;
  baseDir: string;
}

export function loadConfigFile(path: string): LoadedConfig {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (cause) {
    throw new ZtshError('invalid_config', `cannot read config file ${absolute}`, { cause, hint: 'pass --config with the path to ztsh.yaml' });
  }
  let value: unknown;
  try {
    value = parse(text, { prettyErrors: true });
  } catch (cause) {
    throw new ZtshError('invalid_config', `${absolute}: not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  return { config: parseConfig(ZtshdConfigSchema, value, absolute), path: absolute, baseDir: dirname(absolute) };
}
