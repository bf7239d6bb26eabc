// The serving certificate: the operator's files, or a self-signed pair made
// in data_dir/tls (its CA in ca.crt, for clients to trust), made again when
// it is about to run out.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ZtshError } from '@ztsh/protocol';
import { createSelfSignedTls } from './self-signed-tls.ts';

/** A self-signed certificate with less left than this is made again at start. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

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
  now?: () => Date;
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
  const now = options.now ?? (() => new Date());
  if (!usable(paths, now())) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const made = await createSelfSignedTls({ hostnames: [options.hostname], now });
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

/**
 * All three files are there and belong together (a start cut short while
 * writing them leaves a mix), and the certificate has more than
 * RENEW_BEFORE_MS left.
 */
function usable(paths: { ca: string; cert: string; key: string }, now: Date): boolean {
  if (![paths.ca, paths.cert, paths.key].every((p) => existsSync(p))) return false;
  try {
    const cert = new X509Certificate(readFileSync(paths.cert));
    const ca = new X509Certificate(readFileSync(paths.ca));
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(paths.key))) || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    return new Date(cert.validTo).getTime() - now.getTime() > RENEW_BEFORE_MS;
  } catch {
    // Unreadable or not a certificate: ztshd owns this folder, so it makes a new one.
    return false;
  }
}
