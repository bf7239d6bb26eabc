// The serving certificate: the operator's files, or a self-signed pair made
// once in data_dir/tls (its CA in ca.crt, for clients to trust).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ZtshError } from '@ztsh/protocol';

export interface ServingTls {
  cert: string;
  key: string;
  /** Set when ztshd made the certificate itself: the CA clients must trust. */
  selfSignedCa?: string;
  caFile?: string;
}

export async function servingTls(options: {
  files?: { cert_file: string; key_file: string } | undefined;
  baseDir: string;
  dataDir: string;
  hostname: string;
  /** The config key of `files`, for errors. */
  key?: string;
}): Promise<ServingTls> {
  if (options.files) {
    const read = (key: 'cert_file' | 'key_file') => {
      const path = resolve(options.baseDir, options.files![key]);
      try {
        return readFileSync(path, 'utf8');
      } catch (cause) {
        throw new ZtshError('invalid_config', `${options.key ?? 'proxy.tls'}.${key}: cannot read ${path}`, { cause });
      }
    };
    return { cert: read('cert_file'), key: read('key_file') };
  }
  const dir = join(options.dataDir, 'tls');
  const paths = { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  if (!existsSync(paths.key)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Loaded only when needed: testkit also carries the dev IdP.
    const { createTestTls } = await import('@ztsh/testkit');
    const made = await createTestTls([options.hostname].filter((n) => n !== 'localhost' && n !== '127.0.0.1'));
    writeFileSync(paths.ca, made.caCert);
    writeFileSync(paths.cert, made.cert);
    writeFileSync(paths.key, made.key, { mode: 0o600 });
  }
  return {
    cert: readFileSync(paths.cert, 'utf8'),
    key: readFileSync(paths.key, 'utf8'),
    selfSignedCa: readFileSync(paths.ca, 'utf8'),
    caFile: paths.ca,
  };
}
