// ztsh.yaml: the server's one config file. Strict, versioned; every error
// names the key path.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AuthConfigSchema, parseConfig } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';

const HostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:3080')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0 to 65535');

export const ZtshdConfigSchema = z.strictObject({
  version: z.literal('v1'),
  /** Where the database, CA keys and the self-signed TLS pair live; relative to the config file. */
  data_dir: z.string().default('./data'),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  proxy: z.strictObject({
    /** Address to bind. */
    listen: HostPort.default('0.0.0.0:3080'),
    /** The one address users, browsers and agents know. */
    public_addr: z.url().refine((u) => u.startsWith('https://'), 'must be an https:// URL'),
    /** Serving certificate; without it ztshd makes a self-signed one in data_dir/tls. */
    tls: z.strictObject({ cert_file: z.string(), key_file: z.string() }).optional(),
    /** Trust X-Forwarded-For / -Proto / -Host from an L7 load balancer in front; only the hop it appended counts. */
    trust_proxy: z.boolean().default(false),
  }),
  auth: AuthConfigSchema,
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
