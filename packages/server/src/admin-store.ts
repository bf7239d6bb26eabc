// Admin commands work on the local store directly (SQLite in WAL mode takes
// a running ztshd beside them): find the data dir from --config or --data-dir.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createAuditLog, openSqliteStorage, randomIds, systemClock, type Storage } from '@ztsh/auth';
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

export function openAdminStore(options: StoreOptions) {
  const dir = dataDirOf(options);
  const file = join(dir, 'ztsh.db');
  if (!existsSync(file)) {
    throw new ZtshError('not_found', `no ztsh database in ${dir}`, { hint: 'start ztshd once with this data dir first, or check the path' });
  }
  const storage: Storage = openSqliteStorage(file);
  return { storage, clock: systemClock, ids: randomIds, audit: createAuditLog(storage, systemClock) };
}
