// The `storage` section of ztsh.yaml and the one place that opens the store
// it names: SQLite (the default, data_dir/ztsh.db) or PostgreSQL (several
// replicas on one database). The password never sits in the config itself.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ZtshError } from '@ztsh/protocol';
import { resolveSecret, type SecretContext } from '../secrets.ts';
import { openPostgresStorage } from './postgres.ts';
import { openSqliteStorage } from './sqlite.ts';
import type { Storage } from './storage.ts';

const PASSWORD_HINT = 'put the password in a file (storage.password_file) or an environment variable (storage.password_env)';

export const StorageConfigSchema = z
  .strictObject({
    /** sqlite: one machine, data_dir/ztsh.db. postgres: what several replicas share. */
    engine: z.enum(['sqlite', 'postgres']).default('sqlite'),
    /** postgres://user@host:5432/database; no password in it. */
    url: z.string().optional(),
    /** PEM CA bundle the server's certificate must chain to; relative to the config file. With it, TLS is required and the host name checked. */
    ca_file: z.string().min(1).optional(),
    /** Connections each replica keeps open (the change feed's one comes on top). */
    pool: z.number().int().min(1).max(100).optional(),
    /** A file holding the password; relative to the config file. */
    password_file: z.string().min(1).optional(),
    /** An environment variable holding the password. */
    password_env: z.string().min(1).optional(),
  })
  .superRefine((config, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (config.engine === 'sqlite') {
      for (const key of ['url', 'ca_file', 'pool', 'password_file', 'password_env'] as const) {
        if (config[key] !== undefined) issue(key, 'only for engine: postgres (sqlite keeps data_dir/ztsh.db)');
      }
      return;
    }
    if (config.password_file !== undefined && config.password_env !== undefined) issue('password_env', 'give password_file or password_env, not both');
    if (config.url === undefined) return issue('url', 'required for engine: postgres, e.g. postgres://ztsh@db.internal:5432/ztsh');
    const problem = urlProblem(config.url, config.ca_file !== undefined);
    if (problem) issue('url', problem);
  });
export type StorageConfig = z.infer<typeof StorageConfigSchema>;
export type StorageConfigInput = z.input<typeof StorageConfigSchema>;

/** Why this URL is refused, if it is; never repeats the URL (it may hold a password). */
function urlProblem(text: string, hasCaFile: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL like postgres://ztsh@db.internal:5432/ztsh';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return 'must start with postgres:// or postgresql://';
  if (url.password !== '') return `must not hold a password: ${PASSWORD_HINT}`;
  const keys = [...url.searchParams.keys()].map((k) => k.toLowerCase());
  if (keys.includes('password')) return `must not hold a password: ${PASSWORD_HINT}`;
  if (hasCaFile && keys.some((k) => k.startsWith('ssl'))) return 'give TLS settings through ca_file or in the URL (sslmode, sslrootcert), not both';
  return undefined;
}

export interface OpenStorageOptions {
  /** Resolves password_file (relative to the config file) and password_env. */
  secrets: SecretContext;
  /** Told of a dropped connection and such (PostgreSQL); never a password. */
  onError?: (message: string, error: unknown) => void;
}

/** Opens the store the config names; for sqlite, `dataDir` must exist. */
export async function openStorage(config: StorageConfigInput | undefined, dataDir: string, options: OpenStorageOptions): Promise<Storage> {
  const parsed = StorageConfigSchema.safeParse(config ?? {});
  if (!parsed.success) {
    throw new ZtshError('invalid_config', `storage: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(section)'}: ${i.message}`).join('; ')}`);
  }
  const c = parsed.data;
  if (c.engine === 'sqlite') return openSqliteStorage(join(dataDir, 'ztsh.db'));
  const password =
    c.password_file !== undefined
      ? resolveSecret({ file: c.password_file }, 'storage.password_file', options.secrets)
      : c.password_env !== undefined
        ? resolveSecret({ env: c.password_env }, 'storage.password_env', options.secrets)
        : undefined;
  let caPem: string | undefined;
  if (c.ca_file !== undefined) {
    const path = resolve(options.secrets.baseDir, c.ca_file);
    try {
      caPem = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ZtshError('invalid_config', `storage.ca_file: cannot read ${path}`, { cause });
    }
  }
  try {
    return await openPostgresStorage({ url: c.url!, password, caPem, poolSize: c.pool, ...(options.onError ? { onError: options.onError } : {}) });
  } catch (cause) {
    if (cause instanceof ZtshError) throw cause;
    const url = new URL(c.url!);
    throw new ZtshError('unavailable', `cannot open the PostgreSQL store at ${url.host}${url.pathname}: ${(cause as Error).message}`, {
      cause,
      hint: 'check storage.url, the password and that the database exists and is reachable',
    });
  }
}
