// Resolves a configured secret: inline, from a file (relative to the config
// file) or from an environment variable the entry point passes in.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ZtshError } from '@ztsh/protocol';
import type { SecretSource } from './config.ts';

export interface SecretContext {
  env: Record<string, string | undefined>;
  baseDir: string;
}

export function resolveSecret(source: SecretSource, where: string, context: SecretContext): string {
  if (typeof source === 'string') return source;
  if ('env' in source) {
    const value = context.env[source.env];
    if (!value) throw new ZtshError('invalid_config', `${where}: environment variable ${source.env} is not set`);
    return value;
  }
  const path = resolve(context.baseDir, source.file);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new ZtshError('invalid_config', `${where}: cannot read ${path}`, { cause });
  }
}
