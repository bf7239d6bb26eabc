// `ztshd dev --replicas N --postgres URL [--postgres-password-file FILE]`:
// the flags turned into the `storage` section every replica's ztsh.yaml gets,
// checked by the same rules as that section (no password in the URL), before
// anything starts. The password comes from PGPASSWORD or the file, so it is
// never on a command line (`ps` shows those) nor in a config written to disk.
// main.ts loads this with every ztshd, so it needs no testkit and has no dev-
// name (those are the dev command's lazily loaded modules).
import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { StorageConfigSchema, type StorageConfigInput } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';

/** haproxy-front.ts' server-template slots: the most replicas one front takes. */
export const MAX_DEV_REPLICAS = 16;

const PASSWORD_HINT = 'set PGPASSWORD, or put it in a file and give --postgres-password-file FILE';

export interface DevPostgresFlags {
  replicas?: number | undefined;
  postgres?: string | undefined;
  postgresPasswordFile?: string | undefined;
}

/** --replicas: a whole number from 1 to MAX_DEV_REPLICAS. */
export function replicaCount(text: string): number {
  const n = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_DEV_REPLICAS)) throw new InvalidArgumentError(`a whole number from 1 to ${MAX_DEV_REPLICAS}.`);
  return n;
}

/**
 * The storage section for the replicas, or undefined when neither flag is
 * given (the one-replica SQLite dev stack). Errors never repeat the URL: a
 * refused one may hold a password.
 */
export function devStorage(flags: DevPostgresFlags, env: Record<string, string | undefined>): { storage: StorageConfigInput; replicas: number } | undefined {
  if (flags.postgres === undefined) {
    if (flags.replicas !== undefined) {
      throw new ZtshError('bad_request', '--replicas needs --postgres URL: the replicas share one PostgreSQL database (SQLite is one replica)', {
        hint: 'ztshd dev --replicas 3 --postgres postgres://ztsh@127.0.0.1:5432/ztsh',
      });
    }
    if (flags.postgresPasswordFile !== undefined) throw new ZtshError('bad_request', '--postgres-password-file is for --postgres URL');
    return undefined;
  }
  const url = flags.postgres;
  // The URL parser drops tabs and newlines silently; the replicas would be given a URL other than the one checked.
  if (/[\s\x00-\x1f\x7f]/.test(url)) throw new ZtshError('bad_request', '--postgres: the URL must not hold spaces or control characters');
  const parsed = StorageConfigSchema.safeParse({ engine: 'postgres', url });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.message.startsWith('must not hold a password')) throw new ZtshError('bad_request', '--postgres: the URL must not hold a password', { hint: PASSWORD_HINT });
    throw new ZtshError('bad_request', `--postgres: ${issue.message.replace(/^required for engine: postgres, /, '')}`);
  }
  const password = passwordSource(flags.postgresPasswordFile, env);
  return { storage: { engine: 'postgres', url, pool: 5, ...password }, replicas: flags.replicas ?? 1 };
}

function passwordSource(file: string | undefined, env: Record<string, string | undefined>): Pick<StorageConfigInput, 'password_file' | 'password_env'> {
  if (file !== undefined) {
    if (env.PGPASSWORD) throw new ZtshError('bad_request', 'the database password is given twice: PGPASSWORD is set and --postgres-password-file given', { hint: 'unset PGPASSWORD, or leave out --postgres-password-file' });
    const path = resolve(file);
    let text: string;
    try {
      // A password file is small and regular: not a pipe or device that would never end.
      const stat = statSync(path);
      if (!stat.isFile() || stat.size > 4096) throw new ZtshError('bad_request', `--postgres-password-file: ${path} is not a small regular file`);
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      if (cause instanceof ZtshError) throw cause;
      throw new ZtshError('bad_request', `--postgres-password-file: cannot read ${path}`, { cause });
    }
    if (text.trim() === '') throw new ZtshError('bad_request', `--postgres-password-file: ${path} is empty`);
    return { password_file: path };
  }
  return env.PGPASSWORD ? { password_env: 'PGPASSWORD' } : {};
}
