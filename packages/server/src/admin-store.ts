// Admin commands work on the store directly (SQLite in WAL mode takes a
// running ztshd beside them; PostgreSQL takes any number): find it from
// --config (its storage section) or --data-dir (SQLite).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createAuditLog, openStorage, randomIds, systemClock, type Storage } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';
import { loadConfigFile } from './config.ts';

export interface StoreOptions {
  config?: string;
  dataDir?: string;
}

export function dataDirOf(options: StoreOptions): string {
  if (options.config) {
    const loaded = loadConfigFile(options.config);
    if (!loaded.config.services.includes('auth')) {
      throw new ZtshError('bad_request', `${loaded.path} runs a proxy alone: its data dir has no database`, { hint: 'run this beside the auth service, with its ztsh.yaml' });
    }
    return resolve(loaded.baseDir, loaded.config.data_dir);
  }
  if (options.dataDir) return resolve(options.dataDir);
  throw new ZtshError('bad_request', 'say which ztshd: --config ztsh.yaml or --data-dir DIR', { hint: 'for the dev stack: --data-dir .ztsh-dev' });
}

export async function openAdminStore(options: StoreOptions, env: Record<string, string | undefined> = process.env) {
  const dir = dataDirOf(options);
  const loaded = options.config ? loadConfigFile(options.config) : undefined;
  const config = loaded?.config.storage;
  if ((config?.engine ?? 'sqlite') === 'sqlite' && !existsSync(join(dir, 'ztsh.db'))) {
    throw new ZtshError('not_found', `no ztsh database in ${dir}`, { hint: 'start ztshd once with this data dir first, or check the path' });
  }
  const storage: Storage = await openStorage(config, dir, { secrets: { env, baseDir: loaded?.baseDir ?? dir } });
  return { storage, clock: systemClock, ids: randomIds, audit: createAuditLog(storage, systemClock) };
}
